package openpi

import (
	"context"
	"errors"
	"fmt"
	"maps"

	"dreamrank/foundation/errcode"
	"dreamrank/policy"
)

// ErrBadOption: a backend option that cannot be used.
var ErrBadOption = errors.New("openpi: bad option")

// ClientOptionNames are the backend's options besides LayoutOptions.
var ClientOptionNames = []LayoutOption{
	{"url", "the server, ws://host:port (required)"},
	{"api_key", "sent as the header \"Authorization: Api-Key <key>\""},
	{"frame_size", "the robot's camera frame size, HxW (default: the server's, or square RGB frames sized by their byte count)"},
}

func init() {
	errcode.Register(ErrBadOption, errcode.BadRequest)
	errcode.Register(ErrBadLayout, errcode.BadRequest)
	policy.Register("openpi", func(ctx context.Context, opts policy.Options) (policy.Policy, error) {
		url, co, err := ParseClientOptions(opts)
		if err != nil {
			return nil, err
		}
		return Dial(ctx, url, co)
	})
}

// ParseClientOptions reads the options of backend "openpi": url, api_key,
// frame_size and the layout's (LayoutOptions). Unknown options and values
// are errors (ErrBadOption, ErrBadLayout).
func ParseClientOptions(opts map[string]string) (string, ClientOptions, error) {
	var co ClientOptions
	names := make([]string, len(ClientOptionNames))
	for i, o := range ClientOptionNames {
		names[i] = o.Name
	}
	l, err := ParseLayout(opts, names...)
	if err != nil {
		return "", co, err
	}
	co.Layout, co.APIKey = l, opts["api_key"]
	url := opts["url"]
	if url == "" {
		return "", co, fmt.Errorf("%w: option url is required", ErrBadOption)
	}
	if v, ok := opts["frame_size"]; ok {
		h, w, err := parseSize(v)
		if err != nil || h == 0 {
			return "", co, fmt.Errorf("%w: frame_size=%q: want HxW, e.g. 96x96", ErrBadOption, v)
		}
		co.Spec.FrameH, co.Spec.FrameW, co.Spec.Channels = h, w, 3
	}
	return url, co, nil
}

// WithURL is opts (say, a fleet request's openpi_options) plus the url:
// the options Open("openpi", ...) takes. The url in opts, if any, loses.
func WithURL(url string, opts map[string]string) map[string]string {
	out := maps.Clone(opts)
	if out == nil {
		out = map[string]string{}
	}
	out["url"] = url
	return out
}
