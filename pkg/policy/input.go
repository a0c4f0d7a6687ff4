package policy

import (
	"encoding/json"
	"time"
)

// Input is the document policies see as `input`, marshalled exactly as
// SPEC.md §2 shows. Models and Base.Models come from
// (*spec.Tree).PolicyModels; Routers from (*spec.Tree).PolicyRouters;
// Notify from (*spec.Tree).PolicyNotify.
type Input struct {
	Models   []map[string]any `json:"models"`
	Routers  any              `json:"routers"`
	Notify   any              `json:"notify"`
	Changes  []Change         `json:"changes"`
	Base     Base             `json:"base"`
	Evidence map[string]any   `json:"evidence"`
	Context  Context          `json:"context"`
}

// Base is what the target branch holds before the change being judged.
type Base struct {
	Models []map[string]any `json:"models"`
}

// Change is one change of what a model serves, as policies see it.
// From is empty for a model that the change adds.
type Change struct {
	Model    string `json:"model"`
	Stage    string `json:"stage"`
	From     string `json:"from"`
	To       string `json:"to"`
	Strategy string `json:"strategy"`
}

// Context says who asks and when. A zero Now is replaced by the
// evaluator's clock.
type Context struct {
	Event  string    `json:"event"`
	Actor  string    `json:"actor"`
	Labels []string  `json:"labels"`
	Now    time.Time `json:"now"`
}

// MarshalJSON writes every list and map as [] or {} rather than null, so
// policies can iterate without guarding against null.
func (in Input) MarshalJSON() ([]byte, error) {
	type plain Input
	p := plain(in)
	if p.Models == nil {
		p.Models = []map[string]any{}
	}
	if p.Routers == nil {
		p.Routers = map[string]any{}
	}
	if p.Notify == nil {
		p.Notify = map[string]any{}
	}
	if p.Changes == nil {
		p.Changes = []Change{}
	}
	if p.Base.Models == nil {
		p.Base.Models = []map[string]any{}
	}
	if p.Evidence == nil {
		p.Evidence = map[string]any{}
	}
	if p.Context.Labels == nil {
		p.Context.Labels = []string{}
	}
	p.Context.Now = p.Context.Now.UTC()
	return json.Marshal(p)
}
