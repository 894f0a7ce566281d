// Package latent is dreamrank's built-in action-conditioned video world
// model for PushT, written with gorgonia and registered as backend
// "builtin" (option "checkpoint").
//
// Each imagined step predicts the agent's next position with a linear head
// fitted by least squares (the pusher is a linear PD system), then a small
// U-Net with a quarter-resolution spatial latent reads the previous frame
// plus disc planes (agent before and after the step, action target) and
// predicts the change of the frame, kept only near the agent (the gate) and
// added to the previous frame. Static parts of the scene are thus copied
// exactly; predicted frames are rounded to bytes, the block's colours in
// the pixels the network changed are pushed towards the palette (Snap, so a
// blurred block does not stay blurred) and fed back.
//
// Rollouts run on oneDNN by default (dnnlNet, foundation/dnnl; backend
// option inference=dnnl): one primitive per layer over a group of up to
// two episodes, bias, leaky ReLU and residual adds fused, oneDNN's own
// channels-last layouts with no reorder between layers, channel
// concatenations as two convolutions summed, upsample-then-convolve as a
// sub-pixel convolution and a depth-to-space shuffle; each pass on one core, a batch's groups on all
// cores concurrently. It predicts what fastNet predicts within 1.2e-6 of
// the 0..1 frame (committed checkpoint), batch-independent bit for bit.
// Where oneDNN cannot build the network the default falls back to fastNet
// (Describe reports it). fastNet (inference=fast) stays as the reference
// of the oneDNN pass, itself an inference-only forward pass tested
// against the gorgonia graph: activations are channel-major over a group of two
// episodes (a batch is stepped group by group, so activations stay in cache
// from layer to layer), every convolution is im2col plus one OpenBLAS sgemm per tile of output rows
// (256 KiB of columns, so they stay in L2; tiles split over the cores with
// OpenBLAS single-threaded, openblas.Serial), bias and leaky ReLU fused
// into one pass over the tile the gemm wrote, channel concatenation free
// (producers write into the consumer's buffer), buffers reused across
// steps. It predicts what the graph predicts to float32 rounding (max
// |difference| 1e-6 of the 0..1 frame on the committed checkpoint; the
// rounded frames of multi-step rollouts came out byte-identical), and an
// episode's values do not depend on its batch, bit for bit, on any CPU
// (tiles depend only on the layer and never straddle two images, so an
// episode's gemms have the same shapes at any batch). The graph stays the training path and the reference:
// Model.UseGraph, the backend option inference=graph and Model.Reference
// step through it. Where the fast pass's time goes (CPU profile, batch 8):
// OpenBLAS sgemm about 45%, im2col copies about 30% (every stride-1 tap is
// one shifted copy per image, memmove-bound), bias/activation epilogues and
// upsampling about 12%, per-episode input planes, byte conversion and the
// palette snap about 7%. The gemms are skinny (16 or 32 output channels, 12
// at full resolution; K = 54..432) and reach about 100 GFLOP/s per core,
// some 60% of half the two-thread sgemm peak of a quiet machine (326).
//
// Train trains it on an episode.Store with multi-step unrolls (curriculum)
// and an optional fine-tuning stage (longer unrolls, extra weight on the
// block's pixels), and writes versioned, checksummed, resumable checkpoints
// (CHECKPOINT.md); Load opens one. split.IsHeldOut/HeldOut define the evaluation split.
package latent
