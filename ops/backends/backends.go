// Package backends links every world-model, policy and judge backend of
// this build, so that each registers its name (worldmodel.Register,
// policy.Register, judge.Register) in one place: the binary and the ops
// packages that open backends by a user's name import it, and no other
// package needs to name a concrete backend to have it available.
package backends

import (
	_ "dreamrank/evaluator/judge"           // judge "pusht-vision"
	_ "dreamrank/evaluator/judge/remote"    // judge "remote"
	_ "dreamrank/evaluator/judge/websocket" // judge "websocket" (Python peers without NATS)
	_ "dreamrank/foresight"                 // policy "foresight"
	_ "dreamrank/policy/flow"               // policy "flow"
	_ "dreamrank/policy/openpi"             // policy "openpi"
	_ "dreamrank/policy/remote"             // policy "nats"
	_ "dreamrank/policy/scripted"           // policy "scripted"
	_ "dreamrank/worldmodel/copylast"       // world model "copylast"
	_ "dreamrank/worldmodel/latent"         // world model "builtin"
	_ "dreamrank/worldmodel/objects"        // world model "objects", with perturbed draws
	_ "dreamrank/worldmodel/oracle"         // world model "oracle" (the PushT simulator, a reference)
	_ "dreamrank/worldmodel/remote"         // world model "remote"
	_ "dreamrank/worldmodel/slots"          // world model "slots", with perturbed draws
	_ "dreamrank/worldmodel/websocket"      // world model "websocket" (Python peers without NATS)
)
