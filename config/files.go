package config

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"go.yaml.in/yaml/v3"
)

// readIni reads the [section] of an ini file (text already magic-expanded)
// as uWSGI reads it: `key = value` lines, `#` and `;` comment lines, a key
// alone is a key with no value; a value is kept as written (a `# text`
// after it is part of it, as in uWSGI).
func (l *loader) readIni(file, section, text string) error {
	text = strings.TrimPrefix(text, "\ufeff")
	cur := ""
	found := false
	for n, raw := range strings.Split(text, "\n") {
		line := strings.Trim(raw, " \t\r")
		if line == "" || line[0] == '#' || line[0] == ';' {
			continue
		}
		if line[0] == '[' {
			cur = ""
			if len(line) > 1 {
				cur = line[1 : len(line)-1] // the last character goes, ']' or not, as in uWSGI
			}
			continue
		}
		if cur != section {
			continue
		}
		found = true
		k, v, hasEq := strings.Cut(line, "=")
		k = strings.Trim(k, " \t\r")
		if k == "" {
			return errorf("%s:%d: expected key = value, got %q", file, n+1, line)
		}
		it := &item{key: k, value: strings.Trim(v, " \t\r"), bare: !hasEq, from: Source{File: file, Line: n + 1}}
		if err := l.add(it); err != nil {
			return err
		}
	}
	if !found {
		l.warnings = append(l.warnings, fmt.Sprintf("%s: no [%s] section", file, section))
	}
	return nil
}

// readYAML reads the `section:` mapping of a YAML file: each key an
// option, a list a repeated option, a key with no value a flag.
func (l *loader) readYAML(file, section, text string) error {
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(text), &doc); err != nil {
		return errorf("%s: not valid YAML: %v", file, strings.TrimPrefix(err.Error(), "yaml: "))
	}
	if len(doc.Content) == 0 {
		l.warnings = append(l.warnings, fmt.Sprintf("%s: no %s: mapping", file, section))
		return nil
	}
	top := doc.Content[0]
	if top.Kind != yaml.MappingNode {
		return errorf("%s:%d: expected a mapping with a %s: key", file, top.Line, section)
	}
	var body *yaml.Node
	for i := 0; i+1 < len(top.Content); i += 2 {
		if top.Content[i].Value == section {
			body = top.Content[i+1]
		}
	}
	if body == nil {
		l.warnings = append(l.warnings, fmt.Sprintf("%s: no %s: mapping", file, section))
		return nil
	}
	if body.Kind == yaml.AliasNode {
		body = body.Alias
	}
	if body.Kind != yaml.MappingNode {
		return errorf("%s:%d: %s: expected a mapping of options", file, body.Line, section)
	}
	for _, kv := range yamlPairs(body) {
		k, v := kv[0], kv[1]
		if v.Kind == yaml.AliasNode {
			v = v.Alias
		}
		if k.Kind != yaml.ScalarNode {
			return errorf("%s:%d: expected an option name", file, k.Line)
		}
		vals := []*yaml.Node{v}
		if v.Kind == yaml.SequenceNode {
			vals = v.Content
		}
		for _, e := range vals {
			if e.Kind != yaml.ScalarNode {
				return errorf("%s:%d: %s: expected a value or a list of values", file, e.Line, k.Value)
			}
			it := &item{key: k.Value, value: e.Value, from: Source{File: file, Line: e.Line}}
			if e.Tag == "!!null" && e.Value == "" || e.Value == "~" && e.Style == 0 {
				it.value, it.bare = "", true
			}
			if err := l.add(it); err != nil {
				return err
			}
		}
	}
	return nil
}

// yamlPairs lists the key/value pairs of a mapping, with the pairs of a
// `<<: *anchor` merge first, as YAML merges them (keys set here win, and
// come later, which is how a later option wins for uwsgo too).
func yamlPairs(m *yaml.Node) [][2]*yaml.Node {
	var out [][2]*yaml.Node
	for i := 0; i+1 < len(m.Content); i += 2 {
		k, v := m.Content[i], m.Content[i+1]
		if k.Kind == yaml.ScalarNode && k.Value == "<<" && k.Tag == "!!merge" {
			srcs := []*yaml.Node{v}
			if v.Kind == yaml.SequenceNode {
				srcs = v.Content
			}
			for _, src := range srcs {
				if src.Kind == yaml.AliasNode {
					src = src.Alias
				}
				if src.Kind == yaml.MappingNode {
					out = append(out, yamlPairs(src)...)
				}
			}
			continue
		}
		out = append(out, [2]*yaml.Node{k, v})
	}
	return out
}

// readJSON reads the "section" object of a JSON file: each key an option,
// an array a repeated option; true and false are 1 and 0, as uWSGI's.
func (l *loader) readJSON(file, section, text string) error {
	dec := json.NewDecoder(strings.NewReader(text))
	dec.UseNumber()
	lineAt := func() int { return strings.Count(text[:dec.InputOffset()], "\n") + 1 }
	bad := func(err error) error {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return errorf("%s:%d: not valid JSON: %v", file, lineAt(), err)
	}
	tok, err := dec.Token()
	if err != nil {
		return bad(err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return errorf("%s:%d: expected an object with a %q key", file, lineAt(), section)
	}
	found := false
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return bad(err)
		}
		key, _ := tok.(string)
		if key != section {
			var skip json.RawMessage
			if err := dec.Decode(&skip); err != nil {
				return bad(err)
			}
			continue
		}
		found = true
		tok, err = dec.Token()
		if err != nil {
			return bad(err)
		}
		if d, ok := tok.(json.Delim); !ok || d != '{' {
			return errorf("%s:%d: %q: expected an object of options", file, lineAt(), section)
		}
		for dec.More() {
			tok, err := dec.Token()
			if err != nil {
				return bad(err)
			}
			name := tok.(string)
			tok, err = dec.Token()
			if err != nil {
				return bad(err)
			}
			vals := []any{tok}
			if d, ok := tok.(json.Delim); ok {
				if d != '[' {
					return errorf("%s:%d: %s: expected a value or an array of values", file, lineAt(), name)
				}
				vals = nil
				for dec.More() {
					t, err := dec.Token()
					if err != nil {
						return bad(err)
					}
					if _, ok := t.(json.Delim); ok {
						return errorf("%s:%d: %s: expected an array of values", file, lineAt(), name)
					}
					vals = append(vals, t)
				}
				if _, err := dec.Token(); err != nil { // ]
					return bad(err)
				}
			}
			for _, v := range vals {
				it := &item{key: name, from: Source{File: file, Line: lineAt()}}
				switch v := v.(type) {
				case string:
					it.value = v
				case json.Number:
					it.value = v.String()
				case bool:
					it.value = "0"
					if v {
						it.value = "1"
					}
				case nil:
					it.bare = true
				}
				if err := l.add(it); err != nil {
					return err
				}
			}
		}
		if _, err := dec.Token(); err != nil { // }
			return bad(err)
		}
	}
	if !found {
		l.warnings = append(l.warnings, fmt.Sprintf("%s: no %q object", file, section))
	}
	return nil
}
