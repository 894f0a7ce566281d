package nn

import (
	"fmt"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// Input is a graph input whose backing tensor is filled before each run.
type Input struct {
	N *G.Node
	T *tensor.Dense
}

// NewInput makes a float32 input node of shape in g, with its own tensor.
func NewInput(g *G.ExprGraph, name string, shape ...int) Input {
	size := 1
	for _, d := range shape {
		size *= d
	}
	t := tensor.New(tensor.WithShape(shape...), tensor.WithBacking(make([]float32, size)))
	return Input{N: G.NewTensor(g, tensor.Float32, len(shape), G.WithShape(shape...), G.WithName(name), G.WithValue(t)), T: t}
}

// Data is the input's values, to fill in place.
func (in Input) Data() []float32 { return in.T.Data().([]float32) }

// Program is a compiled training graph: a scalar loss and the gradients of
// the parameters it trains.
type Program struct {
	vm      G.VM
	loss    *G.Node
	nodes   G.Nodes
	trained []bool
}

// Compile differentiates loss with respect to the parameters of b for which
// trains(name) holds and compiles the graph. Call it with BuildMu held.
func Compile(b *Bound, ps *Params, loss *G.Node, trains func(name string) bool) (*Program, error) {
	p := &Program{loss: loss, nodes: b.Nodes}
	var wrt G.Nodes
	for i, prm := range ps.List {
		tr := trains(prm.Name)
		p.trained = append(p.trained, tr)
		if tr {
			wrt = append(wrt, b.Nodes[i])
		}
	}
	if _, err := G.Grad(loss, wrt...); err != nil {
		return nil, fmt.Errorf("nn: gradient: %w", err)
	}
	p.vm = G.NewTapeMachine(b.G)
	return p, nil
}

// Run does one forward and backward pass and returns the loss and the
// gradients in parameter order (nil for parameters not trained), valid
// until the next run.
func (p *Program) Run() (float64, [][]float32, error) {
	p.vm.Reset()
	if err := p.vm.RunAll(); err != nil {
		return 0, nil, err
	}
	grads := make([][]float32, len(p.nodes))
	for i, n := range p.nodes {
		if !p.trained[i] {
			continue
		}
		gv, err := n.Grad()
		if err != nil {
			return 0, nil, fmt.Errorf("nn: gradient of %s: %w", n.Name(), err)
		}
		grads[i] = gv.Data().([]float32)
	}
	return float64(p.loss.Value().Data().(float32)), grads, nil
}

// Close releases the compiled graph.
func (p *Program) Close() { p.vm.Close() }
