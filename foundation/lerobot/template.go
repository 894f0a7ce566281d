package lerobot

import (
	"fmt"
	"path"
	"strconv"
	"strings"
)

// expand fills a path template of info.json (data_path, video_path) the
// way Python's str.format does for the forms LeRobot uses: {name} and
// {name:03d}. Values are ints or strings. The result must be a relative
// path that stays inside the dataset: the template is outside input.
func expand(tmpl string, vars map[string]any) (string, error) {
	var b strings.Builder
	for i := 0; i < len(tmpl); {
		c := tmpl[i]
		switch {
		case c == '{' && i+1 < len(tmpl) && tmpl[i+1] == '{':
			b.WriteByte('{')
			i += 2
		case c == '}' && i+1 < len(tmpl) && tmpl[i+1] == '}':
			b.WriteByte('}')
			i += 2
		case c == '}':
			return "", fmt.Errorf("single '}' at %d in %q", i, tmpl)
		case c == '{':
			end := strings.IndexByte(tmpl[i:], '}')
			if end < 0 {
				return "", fmt.Errorf("unclosed '{' in %q", tmpl)
			}
			field := tmpl[i+1 : i+end]
			name, spec, _ := strings.Cut(field, ":")
			v, ok := vars[name]
			if !ok {
				return "", fmt.Errorf("unknown placeholder {%s} in %q", name, tmpl)
			}
			s, err := formatValue(v, spec)
			if err != nil {
				return "", fmt.Errorf("{%s} in %q: %v", field, tmpl, err)
			}
			b.WriteString(s)
			i += end + 1
		default:
			b.WriteByte(c)
			i++
		}
	}
	p := b.String()
	if p == "" || strings.HasPrefix(p, "/") || strings.Contains(p, "\\") || strings.ContainsRune(p, 0) {
		return "", fmt.Errorf("path %q is not relative", p)
	}
	if clean := path.Clean(p); clean != p || clean == "." || clean == ".." || strings.HasPrefix(clean, "../") {
		return "", fmt.Errorf("path %q leaves the dataset or is not clean", p)
	}
	return p, nil
}

// formatValue supports the empty spec and zero-padded decimal widths
// ("03d", "06d", "d").
func formatValue(v any, spec string) (string, error) {
	switch x := v.(type) {
	case string:
		if spec != "" {
			return "", fmt.Errorf("format spec %q on a string", spec)
		}
		return x, nil
	case int:
		if spec == "" || spec == "d" {
			return strconv.Itoa(x), nil
		}
		if !strings.HasSuffix(spec, "d") || !strings.HasPrefix(spec, "0") {
			return "", fmt.Errorf("format spec %q (want 0Nd)", spec)
		}
		width, err := strconv.Atoi(spec[1 : len(spec)-1])
		if err != nil || width < 0 || width > 32 {
			return "", fmt.Errorf("format spec %q", spec)
		}
		s := strconv.Itoa(x)
		neg := x < 0
		if neg {
			s = s[1:]
			width--
		}
		if len(s) < width {
			s = strings.Repeat("0", width-len(s)) + s
		}
		if neg {
			s = "-" + s
		}
		return s, nil
	}
	return "", fmt.Errorf("value of type %T", v)
}
