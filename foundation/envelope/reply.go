package envelope

import (
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"

	"dreamrank/foundation/errcode"
)

// Reply publishes msg to subject, in numbered parts of at most maxPart
// bytes when it does not fit one.
func Reply(nc *nats.Conn, subject string, msg []byte, maxPart int) error {
	ps := Parts(msg, maxPart)
	for i, p := range ps {
		m := &nats.Msg{Subject: subject, Data: p}
		if len(ps) > 1 {
			m.Header = nats.Header{HeaderPart: []string{fmt.Sprintf("%d/%d", i+1, len(ps))}}
		}
		if err := nc.PublishMsg(m); err != nil {
			return err
		}
	}
	return nil
}

// ErrorReply is the error reply for err (the NATS micro convention): the
// errcode.Error as JSON body, its message on one line (at most 1 KiB) and
// its code in the headers.
func ErrorReply(subject string, err error) *nats.Msg {
	e := errcode.FromError(err)
	body, _ := json.Marshal(e)
	desc := strings.Map(func(r rune) rune {
		if r == '\r' || r == '\n' {
			return ' '
		}
		return r
	}, e.Message)
	if len(desc) > 1024 {
		desc = desc[:1024]
	}
	if desc == "" {
		desc = string(e.Code)
	}
	return &nats.Msg{Subject: subject, Data: body, Header: nats.Header{
		HeaderError:     []string{desc},
		HeaderErrorCode: []string{string(e.Code)},
	}}
}

// Partials reassembles multi-part requests, keyed by their reply subject.
// The zero value is ready; it is safe for concurrent use.
type Partials struct {
	mu sync.Mutex
	m  map[string]*partial
}

type partial struct {
	Assembler
	started time.Time
}

// Add takes one request message with its HeaderPart value: complete reports
// that msg is the whole request (a single-part one, or the last part).
// Messages over limit bytes are errcode.TooLarge.
func (p *Partials) Add(key, partHdr string, data []byte, limit int) (msg []byte, complete bool, err error) {
	i, n, multi, err := ParsePart(partHdr)
	if err != nil {
		return nil, false, err
	}
	if !multi || n == 1 {
		if len(data) > limit {
			return nil, false, errcode.New(errcode.TooLarge, fmt.Sprintf("message of %d bytes exceeds %d", len(data), limit))
		}
		return data, true, nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.m == nil {
		p.m = map[string]*partial{}
	}
	a := p.m[key]
	if a == nil {
		a = &partial{started: time.Now()}
		p.m[key] = a
	}
	done, err := a.Add(i, n, data, limit)
	if err != nil || done {
		delete(p.m, key)
	}
	if err != nil || !done {
		return nil, false, err
	}
	return a.Message(), true, nil
}

// Expire drops messages whose first part came before cutoff.
func (p *Partials) Expire(cutoff time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for key, a := range p.m {
		if a.started.Before(cutoff) {
			delete(p.m, key)
		}
	}
}
