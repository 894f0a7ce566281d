// Package foresight implements privileged-foresight distillation: teachers
// that see future frames, residual adapters distilled from them, and the
// controls that tell a real foresight gain from extra capacity.
package foresight
