package spec

// Capabilities lists what a router type can do with a traffic table. The
// table of RouterCapabilities is the one place that says it: spec
// validation checks models against it and pkg/targets' adapters declare
// and enforce it.
type Capabilities struct {
	Weights       bool `json:"weights"`        // a weighted split between versions
	Sticky        bool `json:"sticky"`         // the split keyed on a header or cookie
	Preview       bool `json:"preview"`        // a header that reaches a given version
	Shadow        bool `json:"shadow"`         // copies of live requests to a shadow version
	ShadowCompare bool `json:"shadow_compare"` // the shadow's answers compared with the live ones
	Bandit        bool `json:"bandit"`         // per-request Thompson sampling among arms
	Feedback      bool `json:"feedback"`       // rewards posted to the router's listener
	Fallback      bool `json:"fallback"`       // a per-request fallback version on errors
	Stats         bool `json:"stats"`          // the router measures requests per version itself
	Outputs       bool `json:"outputs"`        // the router reads answers' outputs and labels (behaviour checks)
}

// RouterCapabilities is what each router type can do:
//
//	capability      builtin  nginx                               haproxy
//	Weights         yes      yes (split_clients)                 yes (server weights, runtime API)
//	Sticky          yes      yes (split_clients on header/cookie) yes (consistent hash on header/cookie)
//	Preview         yes      yes (map on the header)             yes (ACL on the header)
//	Shadow          yes      yes (mirror, whole or a share)      no
//	ShadowCompare   yes      no                                  no
//	Bandit          yes      no                                  no
//	Feedback        yes      no                                  no
//	Fallback        yes      yes (proxy_next_upstream + backup)  no
//	Stats           yes      no                                  no
//	Outputs         yes      no                                  no
func RouterCapabilities(routerType string) (Capabilities, bool) {
	switch routerType {
	case "builtin":
		return Capabilities{Weights: true, Sticky: true, Preview: true, Shadow: true,
			ShadowCompare: true, Bandit: true, Feedback: true, Fallback: true, Stats: true, Outputs: true}, true
	case "nginx":
		return Capabilities{Weights: true, Sticky: true, Preview: true, Shadow: true, Fallback: true}, true
	case "haproxy":
		return Capabilities{Weights: true, Sticky: true, Preview: true}, true
	}
	return Capabilities{}, false
}

// Names lists the capabilities that are set, in a fixed order.
func (c Capabilities) Names() []string {
	var out []string
	for _, f := range c.fields() {
		if f.set {
			out = append(out, f.name)
		}
	}
	return out
}

// Missing lists the capabilities need asks for that c lacks.
func (c Capabilities) Missing(need Capabilities) []string {
	var out []string
	for _, f := range c.missing(need) {
		out = append(out, f.name)
	}
	return out
}

func (c Capabilities) missing(need Capabilities) []capField {
	have, want := c.fields(), need.fields()
	var out []capField
	for i := range want {
		if want[i].set && !have[i].set {
			out = append(out, want[i])
		}
	}
	return out
}

// capField is one capability: its name, whether it is set, and what a
// router that has it can do, in words.
type capField struct {
	name string
	set  bool
	does string
}

func (c Capabilities) fields() []capField {
	return []capField{
		{"weights", c.Weights, "split traffic by weight"},
		{"sticky", c.Sticky, "make sticky assignments"},
		{"preview", c.Preview, "route preview requests by header"},
		{"shadow", c.Shadow, "mirror requests to a shadow"},
		{"shadow_compare", c.ShadowCompare, "compare shadow responses"},
		{"bandit", c.Bandit, "run a bandit"},
		{"feedback", c.Feedback, "collect feedback rewards"},
		{"fallback", c.Fallback, "fall back to another version on errors"},
		{"stats", c.Stats, "measure requests itself"},
		{"outputs", c.Outputs, "read model outputs"},
	}
}
