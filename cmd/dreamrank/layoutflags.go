package main

import (
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"dreamrank/policy/openpi"
)

// layoutFlags are `policy serve --openpi`'s layout flags: --layout and one
// flag per openpi layout option (image_key as --image-key, ...), so the
// server takes the same options as the openpi backend.
type layoutFlags map[string]*string

func (lf layoutFlags) register(fl *pflag.FlagSet) {
	for _, o := range openpi.LayoutOptions {
		v := new(string)
		lf[o.Name] = v
		fl.StringVar(v, flagName(o.Name), "", "openpi: "+o.Usage)
	}
}

func flagName(option string) string { return strings.ReplaceAll(option, "_", "-") }

// options are the layout options given on the command line.
func (lf layoutFlags) options(cmd *cobra.Command) map[string]string {
	out := map[string]string{}
	for name, v := range lf {
		if cmd.Flags().Changed(flagName(name)) {
			out[name] = *v
		}
	}
	return out
}

func (lf layoutFlags) changed(cmd *cobra.Command) bool { return len(lf.options(cmd)) > 0 }

// layout is the layout the flags describe (flat when none is given).
func (lf layoutFlags) layout(cmd *cobra.Command) (openpi.Layout, error) {
	return openpi.ParseLayout(lf.options(cmd))
}
