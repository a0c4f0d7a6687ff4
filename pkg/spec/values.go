package spec

import (
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
)

// attrs reads the attributes of one block and records where each came from
// under FieldKey{model, prefix+name}.
type attrs struct {
	l      *loader
	m      hcl.Attributes
	model  string // FieldKey.Model; routers and metrics use their own maps
	prefix string // "rollout.", "checks.errors.", ...
	ranges map[FieldKey]hcl.Range
	vals   map[FieldKey]hcl.Range
}

// attrsFor returns a reader that records into the tree's ranges of model.
func (l *loader) attrsFor(m hcl.Attributes, model, prefix string) *attrs {
	return &attrs{l: l, m: m, model: model, prefix: prefix, ranges: l.tree.Ranges, vals: l.valueRanges}
}

// value evaluates a literal attribute converted to ty. ok is false when the
// attribute is absent, null, or wrong (which has been reported).
func (a *attrs) value(name string, ty cty.Type, want string) (cty.Value, bool) {
	attr, found := a.m[name]
	if !found {
		return cty.NilVal, false
	}
	key := FieldKey{Model: a.model, Field: a.prefix + name}
	a.ranges[key] = attr.Range
	a.vals[key] = attr.Expr.Range()
	v, ds := attr.Expr.Value(nil)
	if ds.HasErrors() {
		a.l.addHCL("schema", ds)
		a.l.bad[key] = true
		return cty.NilVal, false
	}
	if v.IsNull() || !v.IsWhollyKnown() {
		return cty.NilVal, false
	}
	cv, err := convert.Convert(v, ty)
	if err != nil {
		a.l.bad[key] = true
		a.l.errorAt(attr.Expr.Range(), "Incorrect attribute value type",
			fmt.Sprintf("Inappropriate value for attribute %q: %s required, for example %s.", name, ty.FriendlyName(), want))
		return cty.NilVal, false
	}
	if cv.IsNull() {
		return cty.NilVal, false
	}
	return cv, true
}

// strOrList reads an attribute that is either one string or a list of
// strings (a router's admin URLs, HAProxy runtime API addresses). A list
// gives every element; a string gives a list of one.
func (a *attrs) strOrList(name, want string) []string {
	if attr, found := a.m[name]; found {
		if v, ds := attr.Expr.Value(nil); !ds.HasErrors() && v.IsKnown() && !v.IsNull() && v.Type() == cty.String {
			return []string{a.str(name, "")}
		}
	}
	v, ok := a.value(name, cty.List(cty.String), want)
	if !ok {
		return nil
	}
	out := []string{}
	for it := v.ElementIterator(); it.Next(); {
		_, e := it.Element()
		if !e.IsNull() {
			out = append(out, e.AsString())
		}
	}
	return out
}

func (a *attrs) has(name string) bool { _, ok := a.m[name]; return ok }

func (a *attrs) exprRange(name string) hcl.Range { return a.m[name].Expr.Range() }

func (a *attrs) str(name, def string) string {
	v, ok := a.value(name, cty.String, `"text"`)
	if !ok {
		return def
	}
	return v.AsString()
}

func (a *attrs) boolean(name string, def bool) bool {
	v, ok := a.value(name, cty.Bool, "true")
	if !ok {
		return def
	}
	return v.True()
}

func (a *attrs) num(name string) (float64, bool) {
	v, ok := a.value(name, cty.Number, "0.5")
	if !ok {
		return 0, false
	}
	return a.toFloat(name, v)
}

func (a *attrs) toFloat(name string, v cty.Value) (float64, bool) {
	f, _ := v.AsBigFloat().Float64()
	if math.IsInf(f, 0) || math.IsNaN(f) {
		a.l.errorAt(a.exprRange(name), "Number out of range", fmt.Sprintf("The value of %q is too large to be a number.", name))
		return 0, false
	}
	return f, true
}

func (a *attrs) numDefault(name string, def float64) float64 {
	if f, ok := a.num(name); ok {
		return f
	}
	return def
}

func (a *attrs) optNum(name string) *float64 {
	if f, ok := a.num(name); ok {
		return &f
	}
	return nil
}

// integer reads a whole number that is zero or more.
func (a *attrs) integer(name string, def int) int {
	f, ok := a.num(name)
	if !ok {
		return def
	}
	if f != math.Trunc(f) || f < 0 || f > math.MaxInt32 {
		a.l.errorAt(a.exprRange(name), "Invalid whole number",
			fmt.Sprintf("%q must be a whole number, zero or more (got %v).", name, f))
		return def
	}
	return int(f)
}

func (a *attrs) strList(name string) []string {
	v, ok := a.value(name, cty.List(cty.String), `["nginx"]`)
	if !ok {
		return nil
	}
	var out []string
	for it := v.ElementIterator(); it.Next(); {
		_, e := it.Element()
		if e.IsNull() {
			continue
		}
		out = append(out, e.AsString())
	}
	return out
}

// duration reads a Go duration string such as "30s". The result is def when
// absent or wrong (and a wrong one is reported).
func (a *attrs) duration(name string, def time.Duration) time.Duration {
	v, ok := a.value(name, cty.String, `"30s"`)
	if !ok {
		return def
	}
	s := v.AsString()
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		detail := fmt.Sprintf("%q is not a duration. Write a number with a unit: \"30s\", \"5m\", \"1h30m\" (units ns, us, ms, s, m, h).", s)
		if strings.HasSuffix(s, "d") || strings.HasSuffix(s, "w") {
			detail += " Days and weeks are written in hours, such as \"24h\"."
		}
		if err == nil {
			detail = fmt.Sprintf("%q is negative; durations must be zero or more.", s)
		}
		a.l.errorAt(a.exprRange(name), "Invalid duration", detail)
		return def
	}
	return d
}

// numberList reads a list of numbers, recording each element's range as
// prefix+name+".<index>".
func (a *attrs) numberList(name string) ([]float64, bool) {
	attr, found := a.m[name]
	if !found {
		return nil, false
	}
	elems, ds := hcl.ExprList(attr.Expr)
	if ds.HasErrors() {
		v, ok := a.value(name, cty.List(cty.Number), "[5, 25, 50]")
		if !ok {
			return nil, false
		}
		var out []float64
		for it := v.ElementIterator(); it.Next(); {
			_, e := it.Element()
			if e.IsNull() {
				continue
			}
			f, _ := e.AsBigFloat().Float64()
			out = append(out, f)
		}
		return out, true
	}
	key := FieldKey{Model: a.model, Field: a.prefix + name}
	a.ranges[key] = attr.Range
	a.vals[key] = attr.Expr.Range()
	out := make([]float64, 0, len(elems))
	ok := true
	for i, e := range elems {
		ekey := FieldKey{Model: a.model, Field: fmt.Sprintf("%s%s.%d", a.prefix, name, i)}
		a.ranges[ekey] = e.Range()
		a.vals[ekey] = e.Range()
		v, ds := e.Value(nil)
		if ds.HasErrors() {
			a.l.addHCL("schema", ds)
			a.l.bad[key] = true
			ok = false
			continue
		}
		cv, err := convert.Convert(v, cty.Number)
		if err != nil || cv.IsNull() || !cv.IsKnown() {
			a.l.errorAt(e.Range(), "Incorrect attribute value type",
				fmt.Sprintf("Each element of %q must be a number, as in [5, 25, 50].", name))
			a.l.bad[key] = true
			ok = false
			continue
		}
		f, _ := cv.AsBigFloat().Float64()
		if math.IsInf(f, 0) {
			a.l.errorAt(e.Range(), "Number out of range", fmt.Sprintf("An element of %q is too large to be a number.", name))
			ok = false
			continue
		}
		out = append(out, f)
	}
	return out, ok
}

// weights reads an object of numbers such as { v7 = 50, v8 = 50 } in
// source order, recording each key's range as prefix+name+".<key>".
func (a *attrs) weights(name string) (map[string]float64, []string, bool) {
	attr, found := a.m[name]
	if !found {
		return nil, nil, false
	}
	key := FieldKey{Model: a.model, Field: a.prefix + name}
	a.ranges[key] = attr.Range
	a.vals[key] = attr.Expr.Range()
	pairs, ds := hcl.ExprMap(attr.Expr)
	if ds.HasErrors() {
		a.l.bad[key] = true
		a.l.errorAt(attr.Expr.Range(), "Incorrect attribute value type",
			fmt.Sprintf("%q must be an object of version names to percentages, such as { v7 = 50, v8 = 50 }.", name))
		return nil, nil, false
	}
	m := make(map[string]float64, len(pairs))
	var order []string
	ok := true
	for _, p := range pairs {
		kv, ds := p.Key.Value(nil)
		if ds.HasErrors() {
			a.l.addHCL("schema", ds)
			ok = false
			continue
		}
		ks, err := convert.Convert(kv, cty.String)
		if err != nil || ks.IsNull() || !ks.IsKnown() {
			a.l.errorAt(p.Key.Range(), "Invalid variant name", "Variant names are version names, such as v7.")
			ok = false
			continue
		}
		k := ks.AsString()
		rng := hcl.RangeBetween(p.Key.Range(), p.Value.Range())
		if _, dup := m[k]; dup {
			a.l.errorAt(p.Key.Range(), "Duplicate variant",
				fmt.Sprintf("Variant %q is listed twice in %q; list each version once.", k, name))
			ok = false
			continue
		}
		vv, ds := p.Value.Value(nil)
		if ds.HasErrors() {
			a.l.addHCL("schema", ds)
			ok = false
			continue
		}
		nv, err := convert.Convert(vv, cty.Number)
		if err != nil || nv.IsNull() || !nv.IsKnown() {
			a.l.errorAt(p.Value.Range(), "Incorrect attribute value type",
				fmt.Sprintf("The weight of variant %q must be a number (a percentage).", k))
			ok = false
			continue
		}
		f, _ := nv.AsBigFloat().Float64()
		if math.IsInf(f, 0) {
			f = math.MaxFloat64
		}
		ekey := FieldKey{Model: a.model, Field: a.prefix + name + "." + k}
		a.ranges[ekey] = rng
		a.vals[ekey] = p.Value.Range()
		m[k] = f
		order = append(order, k)
	}
	return m, order, ok
}
