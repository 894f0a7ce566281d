package fidelity

import (
	"context"
	"crypto/sha256"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"dreamrank/foundation/episode"
	"dreamrank/foundation/pusht"
	"dreamrank/worldmodel"
	"dreamrank/worldmodel/copylast"
)

// simEpisodes simulates n PushT episodes of the given length with a
// scripted pusher that moves all the time and bumps the block, so frames
// change.
func simEpisodes(t testing.TB, n, steps int) []*episode.Episode {
	t.Helper()
	out := make([]*episode.Episode, n)
	for i := range out {
		env := pusht.New(pusht.Config{})
		env.ResetLegacy(int64(100 + i))
		rng := rand.New(rand.NewPCG(uint64(i), 7))
		e := &episode.Episode{Meta: episode.Meta{ID: episode.NewID(), FrameH: pusht.ObsSize, FrameW: pusht.ObsSize, Channels: 3}}
		for s := 0; s < steps; s++ {
			st := env.State()
			e.Frames = append(e.Frames, env.Render(pusht.ObsSize))
			e.Proprio = append(e.Proprio, []float32{float32(st.Agent.X), float32(st.Agent.Y)})
			e.GroundTruth = append(e.GroundTruth, []float32{
				float32(st.Agent.X), float32(st.Agent.Y), float32(st.Block.X), float32(st.Block.Y), float32(st.Block.Angle)})
			// Circle the table centre, sweeping the block along without
			// jamming it against a wall (which the real data never does).
			phase := float64(s)*0.12 + float64(i)*2
			target := pusht.Vec2{X: 256 + 150*math.Cos(phase) + rng.NormFloat64()*10, Y: 256 + 150*math.Sin(phase) + rng.NormFloat64()*10}
			e.Actions = append(e.Actions, []float32{float32(target.X), float32(target.Y)})
			env.Step(target)
		}
		e.Timestamps = make([]float64, steps)
		for s := range e.Timestamps {
			e.Timestamps[s] = float64(s) / 10
		}
		out[i] = e
	}
	return out
}

// oracle is a world model that knows the episodes and returns their real
// future, optionally degraded: frames with uniform noise of amplitude
// noise, proprio shifted by shift px.
type oracle struct {
	spec     worldmodel.Spec
	episodes []*episode.Episode
	index    map[[32]byte][]pos
	noise    int
	shift    float32
}

type pos struct{ ep, t int }

func newOracle(episodes []*episode.Episode, noise int, shift float32) *oracle {
	o := &oracle{spec: copylast.PushTSpec(), episodes: episodes, index: map[[32]byte][]pos{}, noise: noise, shift: shift}
	o.spec.ContextLen = 2
	for i, e := range episodes {
		for t, f := range e.Frames {
			k := sha256.Sum256(f)
			o.index[k] = append(o.index[k], pos{i, t})
		}
	}
	return o
}

func (o *oracle) Spec() worldmodel.Spec { return o.spec }

func (o *oracle) Start(_ context.Context, contexts [][]worldmodel.Observation) (worldmodel.Rollout, error) {
	if err := o.spec.ValidateContexts(contexts); err != nil {
		return nil, err
	}
	r := &oracleRollout{o: o, cands: make([][]pos, len(contexts)), rng: rand.New(rand.NewPCG(3, 4))}
	for i, c := range contexts {
		r.cands[i] = slices.Clone(o.index[sha256.Sum256(c[len(c)-1].Frame)])
	}
	return r, nil
}

type oracleRollout struct {
	o       *oracle
	cands   [][]pos // where each imagined episode may be (narrowed by actions)
	stepped int
	rng     *rand.Rand
}

func (r *oracleRollout) Step(ctx context.Context, actions [][][]float32) ([][]worldmodel.Observation, error) {
	chunk, err := r.o.spec.ValidateActions(actions, len(r.cands))
	if err != nil {
		return nil, err
	}
	out := make([][]worldmodel.Observation, len(actions))
	for i := range actions {
		// Keep the candidates whose recorded actions are these.
		var keep []pos
		for _, p := range r.cands[i] {
			e := r.o.episodes[p.ep]
			s := p.t + r.stepped
			if s+chunk < len(e.Frames) && slices.EqualFunc(e.Actions[s:s+chunk], actions[i], slices.Equal[[]float32]) {
				keep = append(keep, p)
			}
		}
		if len(keep) == 0 {
			return nil, worldmodel.ErrBadInput
		}
		r.cands[i] = keep
		p := keep[0]
		e := r.o.episodes[p.ep]
		for k := 0; k < chunk; k++ {
			t := p.t + r.stepped + k + 1
			f := slices.Clone(e.Frames[t])
			for j := range f {
				if r.o.noise > 0 {
					f[j] = uint8(max(0, min(255, int(f[j])+r.rng.IntN(2*r.o.noise+1)-r.o.noise)))
				}
			}
			pr := []float32{e.Proprio[t][0] + r.o.shift, e.Proprio[t][1]}
			out[i] = append(out[i], worldmodel.Observation{Frame: f, Proprio: pr})
		}
	}
	r.stepped += chunk
	return out, nil
}

func (r *oracleRollout) Close() error { return nil }
