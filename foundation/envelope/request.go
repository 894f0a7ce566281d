package envelope

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"

	"dreamrank/foundation/errcode"
)

// Limits bound one request: the size of each part sent, of the reply
// assembled, and the time the caller's ctx allows (for error messages).
type Limits struct {
	MaxPartBytes    int
	MaxMessageBytes int
	Timeout         time.Duration
}

// Request sends body to subject, in parts if it must, on a fresh inbox and
// assembles the reply. Error replies come back as errcode.Error; no
// responders as noResponders; an expired ctx (the attempt's timeout) as
// errcode.Timeout; a part over max_payload as errcode.TooLarge; transport
// failures as errcode.Unavailable.
func Request(ctx context.Context, nc *nats.Conn, subject string, body []byte, lim Limits, noResponders errcode.Code) ([]byte, error) {
	inbox := nc.NewInbox()
	sub, err := nc.SubscribeSync(inbox)
	if err != nil {
		return nil, errcode.New(errcode.Unavailable, err.Error())
	}
	defer sub.Unsubscribe()
	sub.SetPendingLimits(-1, -1) // replies are bounded by MaxMessageBytes below
	ps := Parts(body, lim.MaxPartBytes)
	for i, p := range ps {
		msg := &nats.Msg{Subject: subject, Reply: inbox, Data: p}
		if len(ps) > 1 {
			msg.Header = nats.Header{HeaderPart: []string{fmt.Sprintf("%d/%d", i+1, len(ps))}}
		}
		if err := nc.PublishMsg(msg); err != nil {
			code := errcode.Unavailable
			if errors.Is(err, nats.ErrMaxPayload) {
				code = errcode.TooLarge // a part over the server's max_payload
			}
			return nil, errcode.New(code, err.Error())
		}
	}
	var asm Assembler
	for {
		msg, err := sub.NextMsgWithContext(ctx)
		switch {
		case errors.Is(err, nats.ErrNoResponders):
			return nil, errcode.New(noResponders, "no replica answers on "+subject)
		case errors.Is(err, context.DeadlineExceeded):
			return nil, errcode.New(errcode.Timeout, fmt.Sprintf("no reply on %s within %s", subject, lim.Timeout))
		case err != nil:
			return nil, errcode.New(errcode.Unavailable, err.Error())
		}
		if code := msg.Header.Get(HeaderErrorCode); code != "" {
			var e errcode.Error
			if json.Unmarshal(msg.Data, &e) != nil || e.Code == "" {
				e = errcode.Error{Code: errcode.Code(code), Message: msg.Header.Get(HeaderError)}
			}
			return nil, e
		}
		i, n, multi, err := ParsePart(msg.Header.Get(HeaderPart))
		if err != nil {
			return nil, err
		}
		if !multi {
			if len(msg.Data) > lim.MaxMessageBytes {
				return nil, errcode.New(errcode.TooLarge, fmt.Sprintf("reply of %d bytes exceeds %d", len(msg.Data), lim.MaxMessageBytes))
			}
			return msg.Data, nil
		}
		done, err := asm.Add(i, n, msg.Data, lim.MaxMessageBytes)
		if err != nil {
			return nil, err
		}
		if done {
			return asm.Message(), nil
		}
	}
}
