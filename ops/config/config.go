// Package config reads dreamrank's configuration file. The file sets
// defaults for command-line flags, so every setting has one name whether it
// comes from a flag or the file, and flags given on the command line win:
//
//	data: /var/lib/dreamrank     # any command's --data
//	log-level: debug
//	expert eval:                 # only `dreamrank expert eval`
//	  quality: 3
//
// Top-level scalar keys apply to every command that has a flag of that name;
// a key naming a command path (its words after the binary name) holds
// settings for that command only, which take precedence.
package config

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/pflag"
	"go.yaml.in/yaml/v3"
)

// ErrInvalid reports a configuration file that cannot be applied.
var ErrInvalid = errors.New("config: invalid")

// Config is a parsed configuration file.
type Config struct {
	path     string
	global   map[string]string
	commands map[string]map[string]string
}

// Load reads a YAML configuration file.
func Load(path string) (*Config, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	return Parse(path, raw)
}

// Parse reads configuration from YAML bytes; name is used in errors.
func Parse(name string, raw []byte) (*Config, error) {
	var doc map[string]any
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrInvalid, name, err)
	}
	c := &Config{path: name, global: map[string]string{}, commands: map[string]map[string]string{}}
	for key, v := range doc {
		section, ok := v.(map[string]any)
		if !ok {
			s, err := scalar(v)
			if err != nil {
				return nil, fmt.Errorf("%w: %s: %s: %v", ErrInvalid, name, key, err)
			}
			c.global[key] = s
			continue
		}
		cmd := strings.Join(strings.Fields(key), " ")
		c.commands[cmd] = map[string]string{}
		for k, sv := range section {
			s, err := scalar(sv)
			if err != nil {
				return nil, fmt.Errorf("%w: %s: %s.%s: %v", ErrInvalid, name, key, k, err)
			}
			c.commands[cmd][k] = s
		}
	}
	return c, nil
}

func scalar(v any) (string, error) {
	switch x := v.(type) {
	case nil:
		return "", errors.New("empty value")
	case []any:
		parts := make([]string, len(x))
		for i, e := range x {
			s, err := scalar(e)
			if err != nil {
				return "", err
			}
			parts[i] = s
		}
		return strings.Join(parts, ","), nil
	case map[string]any:
		return "", errors.New("nested sections are not supported")
	default:
		return fmt.Sprint(x), nil
	}
}

// Apply sets the flags of the command at path (e.g. "expert eval") that the
// command line left unset. Command sections must name flags the command has;
// global keys apply where a flag of that name exists.
func (c *Config) Apply(path string, flags *pflag.FlagSet) error {
	set := func(k, v string) error {
		f := flags.Lookup(k)
		if f == nil || f.Changed {
			return nil
		}
		if err := f.Value.Set(v); err != nil {
			return fmt.Errorf("%w: %s: %s=%q: %v", ErrInvalid, c.path, k, v, err)
		}
		return nil
	}
	for k, v := range c.global {
		if err := set(k, v); err != nil {
			return err
		}
	}
	section := c.commands[path]
	for k := range section {
		if flags.Lookup(k) == nil {
			return fmt.Errorf("%w: %s: command %q has no setting %q", ErrInvalid, c.path, path, k)
		}
	}
	for k, v := range section {
		if err := set(k, v); err != nil {
			return err
		}
	}
	return nil
}
