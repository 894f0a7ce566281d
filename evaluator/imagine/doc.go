// Package imagine runs policies inside a world model, the way a real
// evaluation runs them on a robot: each episode starts from a real first
// observation of its scenario (for PushT the simulator's legacy reset of
// the seed, rendered by the camera), then loops policy -> action chunk ->
// world model -> predicted observations until the judge sees success or the
// horizon is reached. Episodes are batched: one Act call per round for all
// running episodes and one world-model rollout for the batch.
//
// A Unit (one arm over a batch of seeds) is the unit of work the
// evaluation server's workers run. Every imagined frame is judged as it is
// predicted (each executed chunk's frames, as one judge call per round), so
// an episode stops at its first judged success. When half of a rollout's
// episodes have stopped, the rest continue in a smaller rollout restarted
// from their latest predicted observations, so finished episodes cost
// nothing.
package imagine
