package offline

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"regexp"
	"strings"
)

// readDataset reads a repo-relative dataset: CSV when its name ends in
// ".csv", JSON lines otherwise.
func (r *Runner) readDataset(fsys fs.FS, name string) ([]Sample, error) {
	clean := path.Clean(strings.TrimPrefix(name, "./"))
	if !fs.ValidPath(clean) {
		return nil, fmt.Errorf("dataset %q: want a path inside the repository", name)
	}
	f, err := fsys.Open(clean)
	if err != nil {
		return nil, fmt.Errorf("dataset %s: %w", name, err)
	}
	defer f.Close()
	limit := r.MaxSamples
	if limit <= 0 {
		limit = DefaultMaxSamples
	}
	if strings.EqualFold(path.Ext(clean), ".csv") {
		return readCSV(f, name, limit)
	}
	return readJSONLines(f, name, limit)
}

// readJSONLines reads one {"input": ..., "expected": ...} object a line;
// blank lines are skipped.
func readJSONLines(f io.Reader, name string, limit int) ([]Sample, error) {
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), maxLineBytes)
	var out []Sample
	line := 0
	for sc.Scan() {
		line++
		b := bytes.TrimSpace(sc.Bytes())
		if len(b) == 0 {
			continue
		}
		if len(out) >= limit {
			return nil, fmt.Errorf("dataset %s: more than %d samples", name, limit)
		}
		var s Sample
		if err := json.Unmarshal(b, &s); err != nil {
			return nil, fmt.Errorf("dataset %s:%d: %v (want {\"input\": ..., \"expected\": ...})", name, line, err)
		}
		if s.Input == nil || s.Expected == nil {
			return nil, fmt.Errorf("dataset %s:%d: want both \"input\" and \"expected\"", name, line)
		}
		out = append(out, s)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("dataset %s: %w", name, err)
	}
	return out, nil
}

// readCSV reads a CSV dataset with a header row. The column named
// "expected" is the expected output; every other column becomes a field of
// the input object, in column order. Cells are typed as a JSON reader would
// guess them: an empty cell is null, true and false are booleans, a cell
// written as a JSON number is a number, anything else is a string (so
// "007" and "1e" stay strings). A column that must stay text though it
// looks like a number needs a JSON-lines dataset.
func readCSV(f io.Reader, name string, limit int) ([]Sample, error) {
	cr := csv.NewReader(f)
	header, err := cr.Read()
	if errors.Is(err, io.EOF) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("dataset %s: %s", name, csvError(err))
	}
	exp := -1
	seen := map[string]int{}
	for i, h := range header {
		h = strings.TrimSpace(strings.TrimPrefix(h, "\ufeff"))
		header[i] = h
		if h == "" {
			return nil, fmt.Errorf("dataset %s:1: column %d has no name in the header", name, i+1)
		}
		if j, dup := seen[h]; dup {
			return nil, fmt.Errorf("dataset %s:1: columns %d and %d are both named %q", name, j+1, i+1, h)
		}
		seen[h] = i
		if h == "expected" {
			exp = i
		}
	}
	if exp < 0 {
		return nil, fmt.Errorf("dataset %s:1: the header has no \"expected\" column (want the expected output in a column named expected, the inputs in the others)", name)
	}
	if len(header) < 2 {
		return nil, fmt.Errorf("dataset %s:1: the header has only the \"expected\" column; the other columns make the input", name)
	}
	var out []Sample
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("dataset %s: %s", name, csvError(err))
		}
		if len(out) >= limit {
			return nil, fmt.Errorf("dataset %s: more than %d samples", name, limit)
		}
		var in bytes.Buffer
		in.WriteByte('{')
		for i, cell := range rec {
			if i == exp {
				continue
			}
			if in.Len() > 1 {
				in.WriteByte(',')
			}
			k, _ := json.Marshal(header[i])
			in.Write(k)
			in.WriteByte(':')
			in.Write(csvValue(cell))
		}
		in.WriteByte('}')
		out = append(out, Sample{Input: in.Bytes(), Expected: csvValue(rec[exp])})
	}
	return out, nil
}

// csvError turns a csv.ParseError into "LINE:COLUMN: what".
func csvError(err error) string {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		return fmt.Sprintf("line %d, column %d: %v", pe.Line, pe.Column, pe.Err)
	}
	return err.Error()
}

var jsonNumber = regexp.MustCompile(`^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?$`)

// csvValue types one CSV cell as JSON (see readCSV).
func csvValue(cell string) json.RawMessage {
	t := strings.TrimSpace(cell)
	switch {
	case t == "":
		return json.RawMessage("null")
	case t == "true" || t == "false":
		return json.RawMessage(t)
	case jsonNumber.MatchString(t):
		return json.RawMessage(t)
	}
	b, _ := json.Marshal(cell)
	return b
}
