package nn

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sync"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"dreamrank/foundation/checkpoint"
)

// BuildMu serialises graph construction: gorgonia v0.9.18 keeps unguarded
// global state (encoding groups, lazily cached node hashes) while building
// graphs, so two goroutines building at once race. Running built graphs in
// parallel is safe.
var BuildMu sync.Mutex

// Param is one weight tensor.
type Param struct {
	Name  string
	Shape []int
	T     *tensor.Dense
}

// Data is the parameter's values, shared with every graph it is bound to.
func (p *Param) Data() []float32 { return p.T.Data().([]float32) }

// Params is an ordered set of named parameters.
type Params struct {
	List   []*Param
	byName map[string]*Param
}

// Add appends a parameter; data nil means zeros.
func (ps *Params) Add(name string, shape []int, data []float32) *Param {
	n := 1
	for _, d := range shape {
		n *= d
	}
	if data == nil {
		data = make([]float32, n)
	}
	if len(data) != n {
		panic(fmt.Sprintf("nn: parameter %s: %d values for shape %v", name, len(data), shape))
	}
	if ps.byName == nil {
		ps.byName = map[string]*Param{}
	}
	if _, dup := ps.byName[name]; dup {
		panic("nn: duplicate parameter " + name)
	}
	p := &Param{Name: name, Shape: shape, T: tensor.New(tensor.WithShape(shape...), tensor.WithBacking(data))}
	ps.List = append(ps.List, p)
	ps.byName[name] = p
	return p
}

// AddLinear adds a dense layer name.w (in, out), He-normal scaled by gain,
// and name.b zeros. gain 0 makes a zero layer (a residual branch or an
// output that starts as "no change").
func (ps *Params) AddLinear(rng *rand.Rand, name string, in, out int, gain float64) {
	w := make([]float32, in*out)
	std := gain * math.Sqrt(2/float64(in))
	for i := range w {
		w[i] = float32(rng.NormFloat64() * std)
	}
	ps.Add(name+".w", []int{in, out}, w)
	ps.Add(name+".b", []int{out}, nil)
}

// AddConv adds a convolution name.w (out, in, k, k), He-normal, and name.b.
func (ps *Params) AddConv(rng *rand.Rand, name string, in, out, k int) {
	w := make([]float32, out*in*k*k)
	std := math.Sqrt(2 / float64(in*k*k))
	for i := range w {
		w[i] = float32(rng.NormFloat64() * std)
	}
	ps.Add(name+".w", []int{out, in, k, k}, w)
	ps.Add(name+".b", []int{out}, nil)
}

// Get returns the parameter name, or nil.
func (ps *Params) Get(name string) *Param { return ps.byName[name] }

// Count is the number of scalar parameters.
func (ps *Params) Count() int {
	total := 0
	for _, p := range ps.List {
		total += len(p.Data())
	}
	return total
}

// Infos lists names and shapes, in order, for checkpoint.Match.
func (ps *Params) Infos() []checkpoint.TensorInfo {
	out := make([]checkpoint.TensorInfo, len(ps.List))
	for i, p := range ps.List {
		out[i] = checkpoint.TensorInfo{Name: p.Name, Shape: p.Shape}
	}
	return out
}

// Tensors returns the parameters as checkpoint tensors (sharing data).
func (ps *Params) Tensors() []checkpoint.Tensor {
	out := make([]checkpoint.Tensor, len(ps.List))
	for i, p := range ps.List {
		out[i] = checkpoint.Tensor{Name: p.Name, Shape: p.Shape, Data: p.Data()}
	}
	return out
}

// Load copies a checkpoint's weights into the parameters after checking
// that names and shapes match.
func (ps *Params) Load(c *checkpoint.Checkpoint) error {
	if err := c.Match(ps.Infos()); err != nil {
		return err
	}
	for i, p := range ps.List {
		copy(p.Data(), c.Weights[i].Data)
	}
	return nil
}

// Bound is a parameter set bound into one graph.
type Bound struct {
	G     *G.ExprGraph
	nodes map[string]*G.Node
	// Nodes are in Params.List order, for gradients.
	Nodes G.Nodes
}

// Bind makes a node for every parameter in g, sharing its tensor, so weight
// updates are seen by every graph.
func (ps *Params) Bind(g *G.ExprGraph) *Bound {
	b := &Bound{G: g, nodes: map[string]*G.Node{}}
	for _, p := range ps.List {
		n := G.NewTensor(g, tensor.Float32, len(p.Shape), G.WithShape(p.Shape...), G.WithName(p.Name), G.WithValue(p.T))
		b.nodes[p.Name] = n
		b.Nodes = append(b.Nodes, n)
	}
	return b
}

// Node returns the node of parameter name; it panics if there is none
// (a bug in the network's definition, not an input error).
func (b *Bound) Node(name string) *G.Node {
	n, ok := b.nodes[name]
	if !ok {
		panic("nn: no parameter " + name)
	}
	return n
}
