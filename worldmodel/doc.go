// Package worldmodel owns the action-conditioned video world models that
// dreamrank rolls policies out in: the Model interface, the built-in gorgonia
// models and their training and checkpoints, remote models served over NATS,
// and fidelity metrics against real episodes.
package worldmodel
