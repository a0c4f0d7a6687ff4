package router

import (
	"bytes"
	"encoding/json"
	"io"
	"math"
)

// sameBody compares a live and a shadow answer: byte for byte, or, with
// asJSON, as JSON values whose numbers may differ by tolerance (absolute,
// or relative to the larger magnitude, whichever is looser). Bodies that
// are not JSON are compared byte for byte.
func sameBody(live, shadow []byte, asJSON bool, tolerance float64) bool {
	if bytes.Equal(live, shadow) {
		return true
	}
	if !asJSON {
		return false
	}
	a, okA := decodeJSON(live)
	b, okB := decodeJSON(shadow)
	if !okA || !okB {
		return false
	}
	return jsonEqual(a, b, tolerance)
}

func decodeJSON(b []byte) (any, bool) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, false
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, false // trailing data
	}
	return v, true
}

func jsonEqual(a, b any, tol float64) bool {
	switch x := a.(type) {
	case map[string]any:
		y, ok := b.(map[string]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for k, xv := range x {
			yv, ok := y[k]
			if !ok || !jsonEqual(xv, yv, tol) {
				return false
			}
		}
		return true
	case []any:
		y, ok := b.([]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if !jsonEqual(x[i], y[i], tol) {
				return false
			}
		}
		return true
	case json.Number:
		y, ok := b.(json.Number)
		if !ok {
			return false
		}
		if x == y {
			return true
		}
		fx, err1 := x.Float64()
		fy, err2 := y.Float64()
		if err1 != nil || err2 != nil {
			return false
		}
		d := math.Abs(fx - fy)
		return d <= tol || d <= tol*math.Max(math.Abs(fx), math.Abs(fy))
	default:
		return a == b
	}
}
