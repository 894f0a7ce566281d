package wmfidelity_test

import (
	"context"
	"math"
	"math/rand/v2"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/nats-io/nats.go/jetstream"

	"dreamrank/foundation/checkpoint"
	"dreamrank/foundation/episode"
	"dreamrank/foundation/pusht"
	"dreamrank/ops/server/servertest"
	"dreamrank/ops/wmfidelity"
	"dreamrank/worldmodel/objects"
	"dreamrank/worldmodel/split"
)

// committed is the structured world model the nightly uses.
const committed = "../../checkpoints/pusht-objects"

// saveVariant saves the committed checkpoint, edited, into out (a training
// output directory: a versioned checkpoint and a latest pointer) and
// returns out.
func saveVariant(t testing.TB, out string, edit func(c *checkpoint.Checkpoint)) string {
	t.Helper()
	c, err := checkpoint.Read(committed, objects.CheckpointFormat, objects.CheckpointVersion, false)
	if err != nil {
		t.Fatal(err)
	}
	edit(c)
	if _, err := checkpoint.Save(out, "objects", c); err != nil {
		t.Fatal(err)
	}
	return out
}

// retrained stands for a retraining on the same data: the agent head's
// weights move, nothing else.
func retrained(by float32) func(c *checkpoint.Checkpoint) {
	return func(c *checkpoint.Checkpoint) {
		for i := range c.Weights {
			if c.Weights[i].Name == "agent.w" {
				c.Weights[i].Data = append([]float32(nil), c.Weights[i].Data...)
				c.Weights[i].Data[0] += by
			}
		}
	}
}

// simEpisode simulates one PushT episode of steps steps in which the
// pusher circles the table centre, sweeping the block along.
func simEpisode(i, steps int) *episode.Episode {
	env := pusht.New(pusht.Config{})
	env.ResetLegacy(int64(100 + i))
	rng := rand.New(rand.NewPCG(uint64(i), 7))
	e := &episode.Episode{Meta: episode.Meta{ID: episode.NewID(), FrameH: pusht.ObsSize, FrameW: pusht.ObsSize, Channels: 3}}
	for s := range steps {
		st := env.State()
		e.Frames = append(e.Frames, env.Render(pusht.ObsSize))
		e.Proprio = append(e.Proprio, []float32{float32(st.Agent.X), float32(st.Agent.Y)})
		phase := float64(s)*0.12 + float64(i)*2
		target := pusht.Vec2{X: 256 + 150*math.Cos(phase) + rng.NormFloat64()*10, Y: 256 + 150*math.Sin(phase) + rng.NormFloat64()*10}
		e.Actions = append(e.Actions, []float32{float32(target.X), float32(target.Y)})
		e.Timestamps = append(e.Timestamps, float64(s)/10)
		env.Step(target)
	}
	return e
}

// putHuman stores a simulated episode as the human demonstration of that
// index (indices divisible by 10 are held out) and returns its id.
func putHuman(t testing.TB, dir string, index, steps int) string {
	t.Helper()
	store, err := episode.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	e := simEpisode(index, steps)
	e.Source, e.Extra = split.HumanSource, map[string]string{"episode_index": strconv.Itoa(index)}
	if err := store.Put(context.Background(), e, episode.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	return e.ID
}

// tinyStore is an episode store with two held-out human episodes of 40
// steps (one 32-step window each for a context of 3) and one training
// episode.
func tinyStore(t testing.TB) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "data")
	for _, i := range []int{0, 3, 10} {
		putHuman(t, dir, i, 40)
	}
	return dir
}

// kv is a fresh JetStream key-value bucket on an embedded server.
func kv(t testing.TB) wmfidelity.KV {
	t.Helper()
	e := servertest.NATS(t, "", 0)
	nc := servertest.Connect(t, e.URL())
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	b, err := js.CreateKeyValue(context.Background(), jetstream.KeyValueConfig{Bucket: "state"})
	if err != nil {
		t.Fatal(err)
	}
	return wmfidelity.KV{KV: b}
}

// keys lists the bucket's keys.
func keys(t testing.TB, c wmfidelity.KV) []string {
	t.Helper()
	ks, err := c.KV.Keys(context.Background())
	if err != nil && err != jetstream.ErrNoKeysFound {
		t.Fatal(err)
	}
	return ks
}
