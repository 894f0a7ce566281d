package report

import (
	"bytes"
	"fmt"
	"math"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgsvg"
)

// Plot is one rendered figure.
type Plot struct {
	// Name is a stable identifier ("success", "agreement", "history"),
	// also the file name stem beside the Markdown report.
	Name    string
	Caption string
	// SVG is a standalone SVG document.
	SVG []byte
}

// File is the plot's name beside the Markdown report.
func (p Plot) File() string { return "plots/" + p.Name + ".svg" }

// Inline is the SVG without its XML prolog, to embed in HTML.
func (p Plot) Inline() string {
	s := string(p.SVG)
	if i := strings.Index(s, "<svg"); i >= 0 {
		s = s[i:]
	}
	return s
}

// Plots draws the report's figures: success rates with intervals (always),
// predicted vs real success (with an agreement section of at least one
// arm) and rank history (with more than one night).
func Plots(r Report) ([]Plot, error) {
	var out []Plot
	add := func(name, caption string, p *plot.Plot, w, h vg.Length, err error) error {
		if err != nil {
			return fmt.Errorf("report: plot %s: %w", name, err)
		}
		svg, err := writeSVG(p, w, h)
		if err != nil {
			return fmt.Errorf("report: plot %s: %w", name, err)
		}
		out = append(out, Plot{Name: name, Caption: caption, SVG: svg})
		return nil
	}
	p, err := successPlot(r)
	width := vg.Length(max(6, 0.9*float64(len(r.Leaderboard)))) * vg.Inch
	if err := add("success", fmt.Sprintf("Imagined success rate per arm with %.0f%% Wilson intervals, best first.", 100*r.Confidence), p, width, 3.5*vg.Inch, err); err != nil {
		return nil, err
	}
	if a := r.Agreement; a != nil && len(a.Points) > 0 {
		p, err := agreementPlot(*a)
		if err := add("agreement", "Predicted (world model) against real success rate per arm; the diagonal is perfect agreement.", p, 5*vg.Inch, 5*vg.Inch, err); err != nil {
			return nil, err
		}
	}
	if len(r.History) > 1 {
		p, err := historyPlot(r)
		if err := add("history", "Rank of each arm over the nights (1 is best).", p, 7*vg.Inch, 4*vg.Inch, err); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func writeSVG(p *plot.Plot, w, h vg.Length) ([]byte, error) {
	c := vgsvg.New(w, h)
	p.Draw(draw.New(c))
	var buf bytes.Buffer
	if _, err := c.WriteTo(&buf); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// intervals are points with asymmetric y errors.
type intervals struct {
	plotter.XYs
	plotter.YErrors
}

func successPlot(r Report) (*plot.Plot, error) {
	p := plot.New()
	p.Title.Text = "Success rate (imagined)"
	p.Y.Label.Text = "success rate"
	p.Y.Min, p.Y.Max = 0, 1
	names := make([]string, len(r.Leaderboard))
	iv := intervals{XYs: make(plotter.XYs, len(r.Leaderboard)), YErrors: make(plotter.YErrors, len(r.Leaderboard))}
	for i, row := range r.Leaderboard {
		names[i] = row.Arm
		iv.XYs[i] = plotter.XY{X: float64(i), Y: row.SuccessRate}
		lo, hi := finite(float64(row.SuccessCI.Lo), row.SuccessRate), finite(float64(row.SuccessCI.Hi), row.SuccessRate)
		iv.YErrors[i].Low, iv.YErrors[i].High = row.SuccessRate-lo, hi-row.SuccessRate
	}
	bars, err := plotter.NewYErrorBars(iv)
	if err != nil {
		return nil, err
	}
	bars.CapWidth = vg.Points(8)
	pts, err := plotter.NewScatter(iv.XYs)
	if err != nil {
		return nil, err
	}
	pts.GlyphStyle.Shape = draw.CircleGlyph{}
	pts.GlyphStyle.Radius = vg.Points(3.5)
	pts.GlyphStyle.Color = plotutil.Color(0)
	p.Add(plotter.NewGrid(), bars, pts)
	p.NominalX(names...)
	p.X.Min, p.X.Max = -0.5, float64(len(names))-0.5 // room for the end labels
	return p, nil
}

func finite(v, fallback float64) float64 {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return fallback
	}
	return v
}

func agreementPlot(a Agreement) (*plot.Plot, error) {
	p := plot.New()
	p.Title.Text = "Predicted vs real success"
	if !math.IsNaN(float64(a.Pearson)) {
		p.Title.Text += fmt.Sprintf(" (Pearson r = %.2f)", float64(a.Pearson))
	}
	p.X.Label.Text = "real success rate"
	p.Y.Label.Text = "predicted success rate"
	p.X.Min, p.X.Max, p.Y.Min, p.Y.Max = 0, 1.08, 0, 1.04 // room for labels near 1
	xys := make(plotter.XYs, len(a.Points))
	labels := make([]string, len(a.Points))
	for i, pt := range a.Points {
		xys[i] = plotter.XY{X: pt.Real, Y: pt.Pred}
		labels[i] = pt.Arm
	}
	diag, err := plotter.NewLine(plotter.XYs{{X: 0, Y: 0}, {X: 1, Y: 1}})
	if err != nil {
		return nil, err
	}
	diag.LineStyle.Dashes = []vg.Length{vg.Points(4), vg.Points(3)}
	diag.LineStyle.Color = plotutil.Color(6)
	pts, err := plotter.NewScatter(xys)
	if err != nil {
		return nil, err
	}
	pts.GlyphStyle.Shape = draw.CircleGlyph{}
	pts.GlyphStyle.Radius = vg.Points(3.5)
	pts.GlyphStyle.Color = plotutil.Color(0)
	lab, err := plotter.NewLabels(plotter.XYLabels{XYs: xys, Labels: labels})
	if err != nil {
		return nil, err
	}
	for i := range lab.TextStyle {
		lab.TextStyle[i].XAlign = draw.XLeft
		lab.Offset = vg.Point{X: vg.Points(5), Y: vg.Points(2)}
	}
	p.Add(plotter.NewGrid(), diag, pts, lab)
	return p, nil
}

func historyPlot(r Report) (*plot.Plot, error) {
	p := plot.New()
	p.Title.Text = "Rank history"
	p.Y.Label.Text = "rank (1 best)"
	p.Y.Scale = plot.InvertedScale{Normalizer: plot.LinearScale{}}
	p.Legend.Top = true
	p.Legend.Left = false
	maxRank := 1
	var ticks []plot.Tick
	for i, n := range r.History {
		ticks = append(ticks, plot.Tick{Value: float64(i), Label: n.Time.UTC().Format("01-02")})
		for _, rk := range n.Ranks {
			maxRank = max(maxRank, rk.Rank)
		}
	}
	if len(ticks) > 12 { // keep about a dozen labels
		step := (len(ticks) + 11) / 12
		for i := range ticks {
			if i%step != 0 && i != len(ticks)-1 {
				ticks[i].Label = ""
			}
		}
	}
	p.X.Tick.Marker = plot.ConstantTicks(ticks)
	// Room on the right for the legend.
	p.X.Min, p.X.Max = -0.2, float64(len(r.History)-1)*1.25+0.4
	var yt []plot.Tick
	for k := 1; k <= maxRank; k++ {
		yt = append(yt, plot.Tick{Value: float64(k), Label: fmt.Sprint(k)})
	}
	p.Y.Tick.Marker = plot.ConstantTicks(yt)
	p.Y.Min, p.Y.Max = 0.5, float64(maxRank)+0.5
	p.Add(plotter.NewGrid())
	// One line per arm on tonight's leaderboard, in leaderboard order.
	for k, row := range r.Leaderboard {
		var xys plotter.XYs
		for i, n := range r.History {
			for _, rk := range n.Ranks {
				if rk.Arm == row.Arm {
					xys = append(xys, plotter.XY{X: float64(i), Y: float64(rk.Rank)})
				}
			}
		}
		if len(xys) == 0 {
			continue
		}
		line, pts, err := plotter.NewLinePoints(xys)
		if err != nil {
			return nil, err
		}
		line.Color = plotutil.Color(k)
		line.Dashes = plotutil.Dashes(k / 7)
		pts.Color = plotutil.Color(k)
		pts.Shape = plotutil.Shape(k)
		p.Add(line, pts)
		p.Legend.Add(row.Arm, line, pts)
	}
	return p, nil
}
