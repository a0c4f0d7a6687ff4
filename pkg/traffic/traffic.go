// Package traffic describes what a router should do with each model's
// requests, and what it measured: the data exchanged between the rollout
// engine, the router targets and the builtin router. It is data only.
package traffic

import (
	"time"

	"github.com/switchyard-dev/switchyard/pkg/behaviour"
)

// Table is the whole routing table of one router.
type Table struct {
	// Generation numbers the tables a fleet's replicas are given (0 when
	// nobody numbers them): every replica of a fleet gets the same table
	// with the same generation, so a replica whose generation is behind
	// is stale. The router keeps and shows it; it never interprets it.
	Generation uint64  `json:"generation,omitempty"`
	Routes     []Route `json:"routes"`
}

// Route is how one model at one stage is served on a router.
type Route struct {
	Model string `json:"model"`
	Stage string `json:"stage"`
	// Path is the route prefix; the rest of the request path is appended
	// to the chosen version's URL.
	Path string `json:"path"`
	// Backends maps every version the route may reach to its base URL.
	Backends map[string]string `json:"backends"`
	// CAFiles maps https:// versions to the PEM file, on the router's
	// host, of the certificate authorities their certificates are checked
	// against instead of the system's (builtin router only).
	CAFiles map[string]string `json:"ca_files,omitempty"`
	// Weights is the live split, in percent, summing to 100. Versions with
	// weight 0 may be listed (kept warm, e.g. blue/green's previous version).
	Weights []Weight `json:"weights"`
	// Sticky is "header:NAME", "cookie:NAME" or "" (random per request).
	Sticky  string   `json:"sticky,omitempty"`
	Preview *Preview `json:"preview,omitempty"`
	Shadow  *Shadow  `json:"shadow,omitempty"`
	Bandit  *Bandit  `json:"bandit,omitempty"`
	// Fallback is the version that answers when the chosen one errors or
	// times out ("" for none).
	Fallback string `json:"fallback,omitempty"`
	// Outputs are the JSON pointers into each answer's body that the
	// router reads into per-version sketches (behaviour checks, SPEC.md
	// §8). Empty: no answer body is parsed.
	Outputs []string `json:"outputs,omitempty"`
}

// Weight is one version's share of live traffic, in percent.
type Weight struct {
	Version string  `json:"version"`
	Percent float64 `json:"percent"`
}

// Preview sends requests carrying Header to Version (blue/green).
type Preview struct {
	Header  string `json:"header"`
	Version string `json:"version"`
}

// Shadow copies Percent of live requests to Version and compares answers.
type Shadow struct {
	Version   string  `json:"version"`
	Percent   float64 `json:"percent"`
	Compare   string  `json:"compare"` // exact | json
	Tolerance float64 `json:"tolerance"`
}

// Bandit makes the router choose among Arms per request by Thompson
// sampling on its own reward posteriors, keeping at least ExploreFloor
// (a fraction, 0..1) of traffic on every arm. Weights then hold the
// starting split.
type Bandit struct {
	Arms         []string `json:"arms"`
	ExploreFloor float64  `json:"explore_floor"`
}

// ReplicaStatus is one replica of a router fleet: the table generation it
// acknowledged against the fleet's current one, when it last answered, and
// its last error.
type ReplicaStatus struct {
	Admin       string    `json:"admin"`
	Generation  uint64    `json:"generation"`
	Want        uint64    `json:"want_generation"`
	InSync      bool      `json:"in_sync"`
	LastContact time.Time `json:"last_contact,omitzero"`
	LastError   string    `json:"last_error,omitempty"`
}

// Stats is what a router measured over a window.
type Stats struct {
	Window   time.Duration  `json:"window"`
	Versions []VersionStats `json:"versions"`
}

// VersionStats is one version's measurements over a window. Latencies are
// in seconds.
type VersionStats struct {
	Model       string  `json:"model"`
	Stage       string  `json:"stage"`
	Version     string  `json:"version"`
	Requests    int64   `json:"requests"`
	Errors      int64   `json:"errors"`    // 5xx, failed gRPC calls, timeouts, connection failures
	Fallbacks   int64   `json:"fallbacks"` // answered by the fallback instead
	RequestRate float64 `json:"request_rate"`
	LatencyP50  float64 `json:"latency_p50"`
	LatencyP90  float64 `json:"latency_p90"`
	LatencyP99  float64 `json:"latency_p99"`
	// Time from the request to the first byte of the answer's body (for
	// a streamed answer, its first event), over answers that have one
	// from the version.
	TTFBP50 float64 `json:"ttfb_p50,omitempty"`
	TTFBP90 float64 `json:"ttfb_p90,omitempty"`
	TTFBP99 float64 `json:"ttfb_p99,omitempty"`
	// Shadow measurements, on the shadow version's entry.
	ShadowPairs      int64   `json:"shadow_pairs,omitempty"`
	ShadowAgreements int64   `json:"shadow_agreements,omitempty"`
	ShadowErrors     int64   `json:"shadow_errors,omitempty"`
	ShadowDropped    int64   `json:"shadow_dropped,omitempty"`
	ShadowLatencyP50 float64 `json:"shadow_latency_p50,omitempty"`
	ShadowLatencyP90 float64 `json:"shadow_latency_p90,omitempty"`
	ShadowLatencyP99 float64 `json:"shadow_latency_p99,omitempty"`
	// Rewards from feedback: count, sum and sum of squares (reward in [0,1]).
	Rewards     int64   `json:"rewards,omitempty"`
	RewardSum   float64 `json:"reward_sum,omitempty"`
	RewardSumSq float64 `json:"reward_sum_sq,omitempty"`
	// LatencySample is a bounded sample of latencies, for rank tests.
	LatencySample []float64 `json:"latency_sample,omitempty"`
	// Outputs sketch the answers' outputs by JSON pointer (Route.Outputs),
	// and Quality scores them against the labels posted as feedback in
	// the window.
	Outputs map[string]behaviour.Sketch  `json:"outputs,omitempty"`
	Quality map[string]behaviour.Quality `json:"quality,omitempty"`
}

// StatsQuery asks for one model's stats at one stage over the whole
// seconds [From, To) (Unix times).
type StatsQuery struct {
	Model string `json:"model"`
	Stage string `json:"stage"`
	From  int64  `json:"from"`
	To    int64  `json:"to"`
}

// StatsBatch is many queries in one request (POST /v1/stats).
type StatsBatch struct {
	Queries []StatsQuery `json:"queries"`
}

// StatsBatchAnswer holds one Stats per query, in the queries' order.
type StatsBatchAnswer struct {
	Stats []Stats `json:"stats"`
}

// Find returns the stats of one version, or a zero value with ok false.
func (s Stats) Find(model, stage, version string) (VersionStats, bool) {
	for _, v := range s.Versions {
		if v.Model == model && v.Stage == stage && v.Version == version {
			return v, true
		}
	}
	return VersionStats{Model: model, Stage: stage, Version: version}, false
}

// ServingForHeader is the header of a builtin router's GET /v1/routes (a
// 304 too) giving how long it has held a table, in seconds ("91.500"),
// counted from its first table since it started: a router that restarted
// measured nothing before, whoever gave it its table again.
const ServingForHeader = "X-Switchyard-Serving-For"
