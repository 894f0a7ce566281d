package expert

import (
	"fmt"
	"time"

	"dreamrank/foundation/episode"
	"dreamrank/foundation/pusht"
)

// Episode converts a played episode into the episode format, rendering the
// 96x96 frames the robot's camera saw. Step t pairs the observation of
// States[t] with Actions[t], as the human demonstrations do; the ground truth
// state travels alongside for judging only.
func (r Result) Episode(opts Options) (*episode.Episode, error) {
	scn, err := lookupScene(r.Scene)
	if err != nil {
		return nil, err
	}
	sc := scn.scenario
	n := r.Steps()
	if n == 0 || len(r.States) < n {
		return nil, fmt.Errorf("expert: seed %d: nothing to record (%d actions, %d states)", r.Seed, n, len(r.States))
	}
	seed := r.Seed
	mistake := r.Mistakes > 0
	ep := &episode.Episode{
		Meta: episode.Meta{
			ID:          episode.NewID(),
			Source:      "sim",
			Policy:      fmt.Sprintf("expert-q%d-%s", opts.quality(), opts.Speed),
			Scenario:    sc.Name,
			Seed:        &seed,
			Instruction: sc.Instruction,
			Speed:       opts.Speed.String(),
			Quality:     opts.quality(),
			Mistake:     &mistake,
			Outcome: &episode.Outcome{
				Success:       r.Success,
				MaxReward:     r.MaxReward,
				FinalCoverage: r.Coverage[n-1],
			},
			Created: time.Now().UTC(),
		},
	}
	frames, err := r.Frames(pusht.ObsSize)
	if err != nil {
		return nil, err
	}
	ep.Frames = frames
	for t := 0; t < n; t++ {
		s := r.States[t]
		ep.Proprio = append(ep.Proprio, []float32{float32(s.Agent.X), float32(s.Agent.Y)})
		ep.Actions = append(ep.Actions, []float32{float32(r.Actions[t].X), float32(r.Actions[t].Y)})
		ep.Timestamps = append(ep.Timestamps, float64(t)/sc.ControlHz)
		ep.GroundTruth = append(ep.GroundTruth, []float32{
			float32(s.Agent.X), float32(s.Agent.Y), float32(s.Block.X), float32(s.Block.Y), float32(s.Block.Angle),
		})
		ep.Rewards = append(ep.Rewards, float32(r.Rewards[t]))
	}
	return ep, nil
}

// Frames renders the camera view of every state the expert acted on, at
// size x size pixels (96 is the robot's observation, 512 the full table), in
// the episode's scene.
func (r Result) Frames(size int) ([][]uint8, error) {
	scn, err := lookupScene(r.Scene)
	if err != nil {
		return nil, err
	}
	frames := make([][]uint8, r.Steps())
	for t := range frames {
		s := r.States[t]
		f, err := scn.render(s.Agent, s.Block, size)
		if err != nil {
			return nil, fmt.Errorf("expert: render step %d: %w", t, err)
		}
		frames[t] = f
	}
	return frames, nil
}
