// Package policy defines what dreamrank evaluates: image-based, steerable
// robot policies. A Policy maps a batch of observations (camera frames and
// proprioception) plus steering contexts (task and subtask text, episode
// metadata such as speed, quality and a mistake flag, and up to three subgoal
// images) to a batch of action chunks. Calls are stateless: any history a
// policy needs travels in the observation.
//
// Optional abilities are separate small interfaces (Describer); a policy that
// holds resources (a network connection) also implements io.Closer.
//
// Backends register by name (Register, usually from init) and are opened with
// Open; the openpi websocket client in policy/openpi registers as "openpi".
package policy
