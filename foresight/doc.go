// Package foresight implements privileged-foresight distillation
// (docs/references.md section 5) for the flow-matching policy (policy/flow):
// teachers that see future frames, residual adapters distilled from them,
// and the controls that tell a real foresight gain from extra capacity.
//
// Teacher and student are one network. The student is the frozen policy.
// The teacher is the same network whose flow head also receives features of
// true future frames of the training episode (the observation features the
// same frozen encoder computes for the frames Offsets steps ahead) through a
// bias-free projection added to the head's first-layer pre-activation, plus
// a mask flag. The student's view of the future is zeros with the flag off,
// so it adds exactly nothing: teacher and student differ only by the mask,
// on the same noisy actions, flow time, observation and steering context.
// Only the projection is trained (TrainTeacher), by flow matching.
//
// The adapter g(v_base, t) is a small SiLU MLP on the student's velocity and
// the flow-time embedding whose last layer starts at zero, so an untrained
// adapter leaves the policy unchanged. It is trained on
//
//	L = |v_final - u|^2 + 0.5 |g - r|^2 + 0.1 |v_final - v_teacher|^2,
//	v_final = v_base + g,  r = stopgrad(v_teacher - v_base),  u = eps - a,
//
// and at inference v_final = v_base + g(v_base, t) at every Euler step, with
// no future frames: the adapted policy keeps the policy's interface
// (policy.Policy, backend "foresight": the "flow" options plus "adapter").
// AdapterConfig.Obs is an extension beyond the method: the adapter also
// reads the observation feature the head sees, g(v_base, t, obs), still
// with no future frames at inference.
//
// The controls (Mode): "shuffled" distils the same teacher shown the future
// of a random other training step (the residual keeps its size and
// structure but carries no information about this example's future);
// "none" trains the same adapter for the same steps on the same batches
// with the ground-truth loss alone (no teacher). Adapters are versioned
// checkpoints stored next to their base policy, in
// <policy checkpoint>/adapters/<name>; the teacher in .../adapters/teacher.
package foresight
