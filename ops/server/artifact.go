package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/nats-io/nats.go/jetstream"

	"dreamrank/foundation/errcode"
	"dreamrank/ops/jobapi"
)

// ErrArtifactNotFound: no artifact of that name (for this caller).
var ErrArtifactNotFound = errors.New("server: artifact not found")

func init() { errcode.Register(ErrArtifactNotFound, errcode.NotFound) }

// artifact reads a chunk of an artifact. A user reads only the artifacts of
// the user's own jobs (jobs/<id>/...), which is why they go through the job
// API: the object store's subjects cannot be scoped per job, so users get
// no JetStream access at all.
func (s *Server) artifact(ctx context.Context, owner string, r jobapi.ArtifactRequest) (jobapi.ArtifactReply, error) {
	notFound := fmt.Errorf("%w: %q", ErrArtifactNotFound, r.Name)
	if owner != "" {
		rest, ok := strings.CutPrefix(r.Name, "jobs/")
		id, _, _ := strings.Cut(rest, "/")
		if !ok || id == "" {
			return jobapi.ArtifactReply{}, notFound
		}
		if _, err := s.owned(ctx, owner, id); err != nil {
			return jobapi.ArtifactReply{}, notFound
		}
	}
	if r.Offset < 0 || r.Length < 0 {
		return jobapi.ArtifactReply{}, fmt.Errorf("%w: negative offset or length", errcode.BadRequest)
	}
	length := r.Length
	if length == 0 || length > jobapi.MaxArtifactChunk {
		length = jobapi.MaxArtifactChunk
	}
	obj, err := s.res.Artifacts.Get(ctx, r.Name)
	if errors.Is(err, jetstream.ErrObjectNotFound) || errors.Is(err, jetstream.ErrInvalidStoreName) || errors.Is(err, jetstream.ErrBadObjectMeta) {
		return jobapi.ArtifactReply{}, notFound
	}
	if err != nil {
		return jobapi.ArtifactReply{}, err
	}
	defer obj.Close()
	info, err := obj.Info()
	if err != nil {
		return jobapi.ArtifactReply{}, err
	}
	rep := jobapi.ArtifactReply{Name: r.Name, Size: int64(info.Size)}
	if r.Offset >= rep.Size {
		rep.Data = []byte{}
		return rep, nil
	}
	if _, err := io.CopyN(io.Discard, obj, r.Offset); err != nil {
		return rep, err
	}
	rep.Data = make([]byte, min(int64(length), rep.Size-r.Offset))
	if _, err := io.ReadFull(obj, rep.Data); err != nil {
		return rep, err
	}
	return rep, nil
}
