// Package expert is a privileged scripted expert for the simulated pushing
// scenes: PushT (foundation/pusht, the default) and PushL
// (foundation/pushl), chosen by Options.Scene. It reads the ground-truth
// state and plans with the simulator itself as its model, to generate
// demonstrations of chosen quality and speed. Run plays one episode,
// Evaluate many in parallel, and Policy is the step-by-step expert
// underneath. Planner plans a chunk of PushT actions from any given state,
// for stateless policies that rebuild a state from what they observe
// (policy/scripted). The planner is the same for both scenes; only the
// block's geometry and inertia (body) and the goal differ.
//
// Planning is two-level. The upper level enumerates push primitives: a
// contact point on the block's outline (several approach normals at convex
// corners) and a push length, plus pushes that start from where the agent
// already is. A quasi-static model of frictionless pushing ranks the
// primitives cheaply; the most promising are rolled out in a scratch copy of
// the simulator, with the agent placed at rest at the primitive's pre-contact
// point. Primitives are ranked by progress rate: the drop in log pose error
// (CoG offset and angle, commensurable through the block's radius of gyration)
// per control step spent, the approach included. At the best quality the top
// few are re-ranked by a second, coarser level of primitives (a small beam
// search).
//
// The lower level executes the chosen primitive: a collision-free approach
// around the block (a visibility graph around the block inflated by the
// agent's radius), a deadbeat landing on the pre-contact point and a deadbeat push,
// both computed from the agent's exact PD dynamics so that the agent stops
// where the rollout said. It replans when a push ends or when the block moved
// during the approach.
//
// Quality (1..5) degrades the expert on purpose: no lookahead, coarser
// primitive sets, target noise and deliberate mistakes (a random primitive
// instead of the best). Speed sets the agent's travel and push speeds. Given
// an episode seed the expert is deterministic.
package expert
