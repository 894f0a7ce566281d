package report

import (
	"bytes"
	"embed"
	"encoding/base64"
	"encoding/json"
	"fmt"
	htmltemplate "html/template"
	"math"
	"os"
	"path/filepath"
	"strings"
	texttemplate "text/template"
	"time"
)

//go:embed templates/*.tmpl
var templateFS embed.FS

// Link is a hyperlink in the rendered HTML.
type Link struct {
	Text string
	Href string
}

// HTMLOptions add navigation around a rendered report (the web UI's); the
// zero value renders a standalone page.
type HTMLOptions struct {
	// Nav links go above the title; Links after the run's metadata (e.g.
	// the JSON and Markdown forms).
	Nav   []Link
	Links []Link
}

func funcs(plots []Plot) map[string]any {
	num := func(n Number) string {
		f := float64(n)
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return "—"
		}
		return fmt.Sprintf("%.2f", f)
	}
	return map[string]any{
		"time": func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04 UTC") },
		"pct":  func(f float64) string { return fmt.Sprintf("%.0f%%", 100*f) },
		"f2":   func(f float64) string { return num(Number(f)) },
		"num":  num,
		"ci": func(i Interval) string {
			if math.IsNaN(float64(i.Lo)) && math.IsNaN(float64(i.Hi)) {
				return ""
			}
			return "[" + num(i.Lo) + ", " + num(i.Hi) + "]"
		},
		"inc":  func(i int) int { return i + 1 },
		"join": func(s []string) string { return strings.Join(s, ", ") },
		"keys": func(m any) []string {
			switch m := m.(type) {
			case map[string]string:
				return sortedKeys(m)
			case map[string]Number:
				return sortedKeys(m)
			}
			return nil
		},
		"plot": func(name string) *Plot {
			for i := range plots {
				if plots[i].Name == name {
					return &plots[i]
				}
			}
			return nil
		},
		// cell escapes what would break a Markdown table cell.
		"cell": func(s string) string { return strings.NewReplacer("|", `\|`, "\n", " ").Replace(s) },
	}
}

type page struct {
	R     Report
	Nav   []Link
	Links []Link
}

// HTML renders the report as one self-contained page: plots inline as SVG,
// previews as data URIs; no external requests.
func HTML(r Report, opts HTMLOptions) ([]byte, error) {
	plots, err := Plots(r)
	if err != nil {
		return nil, err
	}
	f := funcs(plots)
	f["svg"] = func(p *Plot) htmltemplate.HTML { return htmltemplate.HTML(p.Inline()) } // #nosec: our own SVG
	f["datauri"] = func(p PreviewInfo) htmltemplate.URL {
		return htmltemplate.URL("data:" + p.MediaType + ";base64," + base64.StdEncoding.EncodeToString(p.Media))
	}
	t, err := htmltemplate.New("report.html.tmpl").Funcs(f).ParseFS(templateFS, "templates/report.html.tmpl")
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	if err := t.Execute(&buf, page{R: r, Nav: opts.Nav, Links: opts.Links}); err != nil {
		return nil, fmt.Errorf("report: html: %w", err)
	}
	return buf.Bytes(), nil
}

// Markdown renders the report as Markdown; plots and previews are linked
// as the files Files writes beside it (plots/*.svg, previews/*).
func Markdown(r Report) ([]byte, error) {
	plots, err := Plots(r)
	if err != nil {
		return nil, err
	}
	t, err := texttemplate.New("report.md.tmpl").Funcs(funcs(plots)).ParseFS(templateFS, "templates/report.md.tmpl")
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	if err := t.Execute(&buf, page{R: r}); err != nil {
		return nil, fmt.Errorf("report: markdown: %w", err)
	}
	return buf.Bytes(), nil
}

// JSON encodes the report in its documented schema (indented, ending in a
// newline).
func JSON(r Report) ([]byte, error) {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("report: json: %w", err)
	}
	return append(b, '\n'), nil
}

// Files renders every form of the report as files by relative name:
// report.json, report.html, report.md, plots/<name>.svg and the previews
// (PreviewInfo.File). This is what the server stores and what
// `dreamrank report render` writes.
func Files(r Report) (map[string][]byte, error) {
	out := map[string][]byte{}
	var err error
	if out["report.json"], err = JSON(r); err != nil {
		return nil, err
	}
	if out["report.html"], err = HTML(r, HTMLOptions{Links: []Link{{"JSON", "report.json"}, {"Markdown", "report.md"}}}); err != nil {
		return nil, err
	}
	if out["report.md"], err = Markdown(r); err != nil {
		return nil, err
	}
	plots, err := Plots(r)
	if err != nil {
		return nil, err
	}
	for _, p := range plots {
		out[p.File()] = p.SVG
	}
	for _, p := range r.Previews {
		out[p.File] = p.Media
	}
	return out, nil
}

// File renders one of the files Files would return, by the same name,
// without rendering the others; ok is false for an unknown name.
func File(r Report, name string) (data []byte, ok bool, err error) {
	switch {
	case name == "report.json":
		data, err = JSON(r)
		return data, true, err
	case name == "report.html":
		data, err = HTML(r, HTMLOptions{Links: []Link{{"JSON", "report.json"}, {"Markdown", "report.md"}}})
		return data, true, err
	case name == "report.md":
		data, err = Markdown(r)
		return data, true, err
	case strings.HasPrefix(name, "plots/"):
		plots, err := Plots(r)
		if err != nil {
			return nil, false, err
		}
		for _, p := range plots {
			if p.File() == name {
				return p.SVG, true, nil
			}
		}
	case strings.HasPrefix(name, "previews/"):
		for _, p := range r.Previews {
			if p.File == name {
				return p.Media, true, nil
			}
		}
	}
	return nil, false, nil
}

// WriteDir writes Files into dir (created if needed) and returns the
// names written.
func WriteDir(dir string, r Report) ([]string, error) {
	files, err := Files(r)
	if err != nil {
		return nil, err
	}
	names := sortedKeys(files)
	for _, name := range names {
		path := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return nil, err
		}
		if err := os.WriteFile(path, files[name], 0o644); err != nil {
			return nil, err
		}
	}
	return names, nil
}
