// Package flow is the project's steerable generalist policy: a small
// convolutional image encoder with spatial-softmax keypoints, plus a
// flow-matching action head over action chunks (the openpi convention:
// t = 1 is noise, x_t = t*eps + (1-t)*a, the network predicts u = eps - a,
// sampling takes 10 Euler steps from t = 1 to 0), conditioned on a steering
// context: task text (hashed words), episode metadata (speed, quality,
// mistake flag) and an optional subgoal image.
//
// Training drops context fields the way pi0.7 does (all metadata 15% of the
// time, each field 5%, the task 5%, subgoal images present in 25% of
// examples), so every field is optional at run time, and classifier-free
// guidance on the metadata sharpens steering: v = v_u + beta (v_c - v_u),
// where v_u is the velocity with the metadata dropped.
//
// The observation front end is either that encoder or fixed perception
// (Encoder "pose": the PushT pose reader's reading of the frame, trained by
// package dagger); the head outputs absolute positions or offsets from the
// pusher (ModelConfig.Relative).
//
// The backend registers as "flow"; its option "checkpoint" names a
// checkpoint directory (or a training output directory: its latest),
// "cfg" the guidance weight (default 1.5; 1 disables guidance),
// "temperature" the scale of the sampler's initial noise (default the
// checkpoint's, else 1), "seed" the noise stream and "inference" the
// forward passes (Policy.Inference).
//
// The conv encoder runs on oneDNN (dnnl.go): the trunk, each keypoint
// plane's softmax and the expected positions (an inner product with the
// keypoint grid) in one plan per group of images; the Go fast pass and
// the gorgonia graph stay as its references.
//
// Act is Features (the front end) then ActFeatures (the sampler: each
// core integrates a group of the batch, every Euler step one oneDNN plan
// run with the head's epilogues fused, or OpenBLAS for groups too small to
// gain; head.go), so a benchmark can time the network apart from the pose
// reader, which is not one.
package flow
