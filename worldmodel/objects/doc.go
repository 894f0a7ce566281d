// Package objects is a structured (object-centric) world model for PushT,
// registered as backend "objects". It exists because the generic
// pixel-latent model (package latent) loses the T block within a few dozen
// imagined steps, while the ranking benchmark rolls policies out for 300.
//
// Unlike the pixel model, this backend is scene-specific: it needs a pose
// reader and a renderer for its task, and here it has PushT's.
//
//   - Perception: each context observation is turned into a state, the
//     pusher from proprioception and the block pose (x, y, angle) read from
//     the frame by the PushT pose reader (pusht.ReadFrame). Training data is
//     read the same way, from frames, never from the episodes' ground truth;
//     frames whose block cannot be read are skipped.
//   - Learned dynamics (gorgonia, via package nn): the pusher's next
//     position is linear in its last two displacements and the action's
//     offset (it follows a PD controller; the head is fitted by least
//     squares). The block's motion is an MLP whose inputs, the pusher now,
//     the pusher after the step and the action target, are expressed in the
//     block's own frame and whose outputs are the block's shift (in its own
//     frame) and turn, so contact physics learned in one place and
//     orientation holds everywhere. When the pusher's path stays clear of
//     the T by ModelConfig.ContactMargin the block is left exactly where it
//     is (it keeps no velocity of its own). The network is trained
//     multi-step: each window is unrolled through its own predictions and
//     every step's block keypoints are compared with the recorded ones. The
//     physics is learned, not simulated; walls are not modelled.
//   - Rendering: predicted states are drawn with pusht.RenderState, the
//     scene's own renderer (a digital twin of the camera), so imagined
//     frames are always sharp and always readable by the judge.
//
// FineTune continues a checkpoint on the episodes it has not seen (the
// fleet's logs, by default) plus a replay share of its own training data,
// and records what it trained on in finetune.json beside the new checkpoint
// (`dreamrank wm finetune`).
//
// The held-out split is split.IsHeldOut's, so `dreamrank wm eval` numbers
// compare with the pixel model's. The committed checkpoint
// checkpoints/pusht-objects is reproduced by (see the README's "World
// model" section for its numbers):
//
//	cp -al /work/main/data/episodes /tmp/objwm-data/episodes   # a store of your own: opening one cleans its tmp dir
//	dreamrank wm train-objects --data /tmp/objwm-data --out /tmp/objwm-out   # 3000 steps, batch 128, unroll 16: 7 min on 2 shared cores after a 6-min pose read
//	cp /tmp/objwm-out/$(cat /tmp/objwm-out/latest)/* checkpoints/pusht-objects/
package objects
