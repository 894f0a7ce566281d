package pusht

import "testing"

// benchState has the pusher in contact with the stem, so steps solve contacts.
var benchState = State{Agent: Vec2{256, 420}, Block: Pose{256, 300, 0}}

func BenchmarkStep(b *testing.B) {
	e := New(Config{})
	e.SetState(benchState)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if i%20 == 0 {
			e.SetState(benchState)
		}
		e.Step(Vec2{256, 250})
	}
}

func BenchmarkSetState(b *testing.B) {
	e := New(Config{})
	b.ReportAllocs()
	for b.Loop() {
		e.SetState(benchState)
	}
}

func BenchmarkSetStateStep(b *testing.B) {
	e := New(Config{})
	b.ReportAllocs()
	for b.Loop() {
		e.SetState(benchState)
		e.Step(Vec2{256, 250})
	}
}

func BenchmarkObserve(b *testing.B) {
	e := New(Config{})
	e.SetState(benchState)
	b.ReportAllocs()
	for b.Loop() {
		e.Observe()
	}
}

// BenchmarkStepFree is a step with the pusher away from the block.
func BenchmarkStepFree(b *testing.B) {
	e := New(Config{})
	s := State{Agent: Vec2{60, 60}, Block: Pose{300, 300, 0}}
	e.SetState(s)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		e.Step(Vec2{60 + float64(i%2)*20, 60})
	}
}
