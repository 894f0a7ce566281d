// Package nn holds what the project's gorgonia networks share: an ordered
// set of named parameters bound into graphs, the Adam optimizer over them,
// a few layers gorgonia lacks, and the lock that serialises graph building.
package nn
