package flow

import (
	"fmt"
	"math"

	"dreamrank/foundation/pusht"
)

// Observation front ends (ModelConfig.Encoder).
const (
	// EncoderConv is the learned convolutional keypoint encoder (the
	// default, and what checkpoints without an encoder field hold).
	EncoderConv = ""
	// EncoderPose is fixed perception: the PushT pose reader
	// (pusht.ReadFrame) reads the block pose and the pusher from the 96x96
	// frame, and the head sees a fixed feature of that reading (PoseFeature).
	// Nothing in it is trained; only the flow head learns.
	EncoderPose = "pose"
)

// PoseFeatureDim is the size of the pose front end's feature before the
// proprio (see PoseFeature).
const PoseFeatureDim = 15

// teeKeypoints are points of the T in its body frame: the bar's ends, the
// stem's end and the centre of area.
var teeKeypoints = [4]pusht.Vec2{{X: -60, Y: 15}, {X: 60, Y: 15}, {X: 0, Y: 120}, {X: 0, Y: 40.7}}

// PoseFeature writes the pose front end's feature of one reading (the first
// PoseFeatureDim values of the observation feature; the normalised proprio
// follows it): whether the block was read, its position (normalised like
// positions everywhere: x/Scale*2-1), the sine and cosine of its angle, the
// pusher's position in the block's frame (table pixels / (Scale/2)), and
// four keypoints of the T in normalised table coordinates. agent is the
// pusher position the policy trusts (the proprio when there is one). A
// reading without a block gives zeros but for the pusher.
func (c ModelConfig) PoseFeature(dst []float32, rd pusht.Reading, agent pusht.Vec2) {
	clear(dst[:PoseFeatureDim])
	if rd.Quality <= 0 {
		return
	}
	b := rd.Block
	if rd.BlockOK {
		dst[0] = 1
	}
	dst[1], dst[2] = c.norm(float32(b.X)), c.norm(float32(b.Y))
	s, co := math.Sincos(b.Angle)
	dst[3], dst[4] = float32(s), float32(co)
	dx, dy := agent.X-b.X, agent.Y-b.Y
	half := c.Scale / 2
	dst[5], dst[6] = float32((co*dx+s*dy)/half), float32((-s*dx+co*dy)/half)
	for k, v := range teeKeypoints {
		w := b.Apply(v)
		dst[7+2*k], dst[8+2*k] = c.norm(float32(w.X)), c.norm(float32(w.Y))
	}
}

// poseObs writes the pose front end's whole observation feature of a frame
// (FrameH x FrameW x 3) and its raw proprio.
func (c ModelConfig) poseObs(dst []float32, frame []uint8, proprio []float32) error {
	rd, err := pusht.ReadFrame(frame, c.FrameH)
	if err != nil {
		return fmt.Errorf("flow: pose reader: %w", err)
	}
	c.PoseObs(dst, rd, proprio)
	return nil
}

// PoseObs writes the pose front end's observation feature (ObsDim values)
// from a reading and the raw proprio (table pixels). The pusher position is
// the proprio's when it has two values, else the reading's.
func (c ModelConfig) PoseObs(dst []float32, rd pusht.Reading, proprio []float32) {
	agent := rd.Agent
	if len(proprio) >= 2 {
		agent = pusht.Vec2{X: float64(proprio[0]), Y: float64(proprio[1])}
	}
	c.PoseFeature(dst, rd, agent)
	for j, v := range proprio {
		dst[PoseFeatureDim+j] = c.norm(v)
	}
}
