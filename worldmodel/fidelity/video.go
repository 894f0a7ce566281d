package fidelity

import (
	"context"
	"fmt"

	"dreamrank/foundation/episode"
	"dreamrank/foundation/video"
	"dreamrank/worldmodel"
)

// VideoScale is how much rollout videos enlarge 96x96 frames so people can
// see the block.
const VideoScale = 4

// WriteRolloutVideo writes an H.264 mp4 of imagined frames beside the real
// ones (imagined left, real right), each w x h RGB, enlarged VideoScale
// times. With real nil it writes the imagined frames alone. When real is
// given it must have one frame per imagined frame.
func WriteRolloutVideo(path string, imagined, real [][]uint8, w, h int, fps float64) error {
	if len(imagined) == 0 {
		return fmt.Errorf("%w: no imagined frames", ErrBadFrame)
	}
	frames, fw := imagined, w
	if real != nil {
		if len(real) != len(imagined) {
			return fmt.Errorf("%w: %d imagined frames but %d real ones", ErrBadFrame, len(imagined), len(real))
		}
		frames, fw = make([][]uint8, len(imagined)), 2*w
		for i := range imagined {
			if len(imagined[i]) != w*h*3 || len(real[i]) != w*h*3 {
				return fmt.Errorf("%w: frame %d: %d and %d bytes, want %d", ErrBadFrame, i, len(imagined[i]), len(real[i]), w*h*3)
			}
			frames[i] = video.SideBySide(imagined[i], real[i], w, h)
		}
	}
	if err := video.UpscaledWriter(VideoScale)(path, frames, fw, h, fps); err != nil {
		return fmt.Errorf("rollout video %s: %w", path, err)
	}
	return nil
}

// Imagine rolls m out on episode e from step start for steps actions (the
// episode's own), chunk actions per call, and returns the predicted
// observations after each action, for videos. The real frames to show
// beside them are e.Frames[start+1 : start+1+steps].
func Imagine(ctx context.Context, m worldmodel.Model, e *episode.Episode, start, steps, chunk int) ([]worldmodel.Observation, error) {
	spec := m.Spec()
	if err := fits(e, spec); err != nil {
		return nil, err
	}
	if start < 0 || steps < 1 || start+steps >= len(e.Frames) {
		return nil, fmt.Errorf("%w: steps %d..%d of an episode of %d", ErrBadEpisode, start, start+steps, len(e.Frames))
	}
	chunk = max(chunk, 1)
	ro, err := m.Start(ctx, [][]worldmodel.Observation{Window{Start: start}.context(e, spec)})
	if err != nil {
		return nil, fmt.Errorf("start: %w", err)
	}
	defer ro.Close()
	out := make([]worldmodel.Observation, 0, steps)
	for len(out) < steps {
		n := min(chunk, steps-len(out))
		s := start + len(out)
		got, err := ro.Step(ctx, [][][]float32{e.Actions[s : s+n]})
		if err != nil {
			return nil, fmt.Errorf("step %d: %w", len(out), err)
		}
		if err := checkPrediction(got, 1, n, spec); err != nil {
			return nil, err
		}
		out = append(out, got[0]...)
	}
	return out, nil
}

// WriteImagined rolls m out on episode e from step start for at most steps
// actions (the episode's own, chunk per call) and writes the imagined
// frames beside the real ones to path (WriteRolloutVideo); it returns the
// number of imagined steps.
func WriteImagined(ctx context.Context, m worldmodel.Model, e *episode.Episode, start, steps, chunk int, path string, fps float64) (int, error) {
	pred, err := Imagine(ctx, m, e, start, steps, chunk)
	if err != nil {
		return 0, err
	}
	imagined := make([][]uint8, len(pred))
	for i, o := range pred {
		imagined[i] = o.Frame
	}
	return len(imagined), WriteRolloutVideo(path, imagined, e.Frames[start+1:start+1+len(imagined)], e.FrameW, e.FrameH, fps)
}
