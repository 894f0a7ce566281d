// Package wmfidelity ties a world model's fidelity numbers (the
// evaluation `dreamrank wm eval` prints: worldmodel/fidelity on the
// held-out episodes, beside the copy-last baseline) to the checkpoint they
// were measured on, so a report can never show another checkpoint's.
//
// An evaluation's Subject is what it measured: the backend and its
// options, the checkpoint's identity (foundation/checkpoint.Identify: its
// data hash and the hash of its weights, so retraining on the same data
// counts as a new checkpoint), the evaluation episodes (a hash of their ids
// and lengths) and the settings. Its Key names the numbers in a Cache (the
// server's JetStream state bucket); a Keeper computes them when the key is
// missing, in the background, and until they are there says "computing"
// rather than show anything older. A `wm eval --json` file carries its
// Subject too, and a Keeper refuses one whose checkpoint is not the model's.
package wmfidelity
