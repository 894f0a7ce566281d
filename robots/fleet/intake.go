package fleet

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"dreamrank/foundation/episode"
	"dreamrank/foundation/errcode"
)

// intake is where uploaded episode logs go: their chunks wait in the
// upload stream, keyed by assignment and index, until the outcome; then
// the log is assembled, checked and stored in the object store and the
// episode store.
type intake struct {
	js       jetstream.JetStream
	uploads  jetstream.Stream
	logs     jetstream.ObjectStore
	episodes *episode.Store // nil: the object store only
}

// put keeps chunk m.Index of an assignment's log; a repeated chunk is
// dropped as a duplicate.
func (in intake) put(ctx context.Context, m Upload) error {
	_, err := in.js.PublishMsg(ctx, &nats.Msg{Subject: UploadSubject(m.Assignment, m.Index), Data: m.Data},
		jetstream.WithMsgID(m.Assignment+"."+strconv.Itoa(m.Index)))
	if err != nil {
		return fmt.Errorf("%w: store chunk: %w", errcode.Unavailable, err)
	}
	return nil
}

// chunks lists the chunk indices of assignment a's log the coordinator
// holds.
func (in intake) chunks(ctx context.Context, a string) ([]int, error) {
	info, err := in.uploads.Info(ctx, jetstream.WithSubjectFilter(UploadPrefix+"."+a+".>"))
	if err != nil {
		return nil, fmt.Errorf("%w: upload state: %w", errcode.Unavailable, err)
	}
	have := []int{}
	for s := range info.State.Subjects {
		if i, err := strconv.Atoi(s[strings.LastIndexByte(s, '.')+1:]); err == nil {
			have = append(have, i)
		}
	}
	slices.Sort(have)
	return have, nil
}

// assemble joins the chunks of assignment a's log and checks them against
// ref. A damaged log's chunks are dropped so that the robot sends them
// again.
func (in intake) assemble(ctx context.Context, a string, ref LogRef) ([]byte, error) {
	data := make([]byte, 0, ref.Size)
	for i := range ref.Chunks {
		raw, err := in.uploads.GetLastMsgForSubject(ctx, UploadSubject(a, i))
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			return nil, fmt.Errorf("%w: chunk %d of %d missing", ErrIncomplete, i, ref.Chunks)
		}
		if err != nil {
			return nil, fmt.Errorf("%w: chunk %d: %w", errcode.Unavailable, i, err)
		}
		data = append(data, raw.Data...)
	}
	if int64(len(data)) != ref.Size || SHA256(data) != ref.SHA256 {
		in.purge(ctx, a)
		return nil, fmt.Errorf("%w: log is %d bytes with sha256 %s, outcome says %d and %s",
			ErrIncomplete, len(data), SHA256(data)[:12], ref.Size, ref.SHA256[:12])
	}
	return data, nil
}

// store puts the log of as in the object store, named by the assignment
// with its request and robot in the headers (repeatOutcome reads them),
// and the episode in the episode store.
func (in intake) store(ctx context.Context, as *assignment, data []byte, ep *episode.Episode) error {
	a := as.a.ID
	hdr := nats.Header{}
	hdr.Set("Dreamrank-Request", as.p.req.ID)
	hdr.Set("Dreamrank-Robot", as.robot)
	if _, err := in.logs.Put(ctx, jetstream.ObjectMeta{Name: a, Description: "steps.zst of fleet episode " + a, Headers: hdr},
		strings.NewReader(string(data))); err != nil {
		return fmt.Errorf("%w: store log: %w", errcode.Unavailable, err)
	}
	if in.episodes != nil {
		if err := in.episodes.Put(ctx, ep, episode.PutOptions{}); err != nil && !errors.Is(err, episode.ErrExists) {
			return fmt.Errorf("%w: store episode: %w", errcode.Unavailable, err)
		}
	}
	return nil
}

// purge drops the chunks of assignment a's log.
func (in intake) purge(ctx context.Context, a string) {
	_ = in.uploads.Purge(ctx, jetstream.WithPurgeSubject(UploadPrefix+"."+a+".>"))
}

// requestOf is the request of assignment a, from its stored log; "" if it
// has none.
func (in intake) requestOf(ctx context.Context, a string) string {
	info, err := in.logs.GetInfo(ctx, a)
	if err != nil {
		return ""
	}
	return info.Headers.Get("Dreamrank-Request")
}
