package spec

import "github.com/hashicorp/hcl/v2"

// Each block's schema, declared once. HCL reports unknown attributes and
// blocks against these (with its own "Did you mean" suggestion), missing
// required attributes and wrong label counts.

var fileSchema = &hcl.BodySchema{
	Blocks: []hcl.BlockHeaderSchema{
		{Type: "router", LabelNames: []string{"name"}},
		{Type: "metrics", LabelNames: []string{"name"}},
		{Type: "model", LabelNames: []string{"name", "stage"}},
		{Type: "notify", LabelNames: []string{"name"}},
	},
}

var routerSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "type", Required: true},
		{Name: "listen"},
		{Name: "admin"},
		{Name: "token_env"},
		{Name: "feedback_token_env"},
		{Name: "tls_cert"},
		{Name: "tls_key"},
		{Name: "ca_file"},
		{Name: "config_file"},
		{Name: "runtime_api"},
		{Name: "command"},
	},
}

var metricsSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "type", Required: true},
		{Name: "url", Required: true},
	},
}

var modelSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "router", Required: true},
		{Name: "path", Required: true},
		{Name: "serve", Required: true},
	},
	Blocks: []hcl.BlockHeaderSchema{
		{Type: "version", LabelNames: []string{"name"}},
		{Type: "rollout"},
		{Type: "check", LabelNames: []string{"name"}},
		{Type: "shadow"},
		{Type: "experiment"},
	},
}

var versionSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "url", Required: true},
		{Name: "heuristic"},
		{Name: "ca_file"},
	},
	Blocks: []hcl.BlockHeaderSchema{
		{Type: "validation"},
	},
}

var validationSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "dataset", Required: true},
		{Name: "url"},
		{Name: "output"},
		{Name: "metric"},
		{Name: "min"},
		{Name: "max"},
		{Name: "max_latency_p99"},
		{Name: "positive"},
		{Name: "baseline"},
		{Name: "max_regression"},
	},
}

var rolloutSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "strategy"},
		{Name: "steps"},
		{Name: "bake"},
		{Name: "interval"},
		{Name: "failure_limit"},
		{Name: "on_failure"},
		{Name: "fallback"},
		{Name: "roll_through"},
		{Name: "preview_header"},
		{Name: "preview_mirror"},
		{Name: "keep_previous"},
	},
}

var checkSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "metric"},
		{Name: "source"},
		{Name: "query"},
		{Name: "max"},
		{Name: "min"},
		{Name: "max_ratio"},
		{Name: "min_ratio"},
		{Name: "output"},
		{Name: "min_requests"},
	},
}

var shadowSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "version", Required: true},
		{Name: "percent"},
		{Name: "compare"},
		{Name: "tolerance"},
		{Name: "min_agreement"},
		{Name: "min_samples"},
	},
}

var experimentSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "method"},
		{Name: "variants", Required: true},
		{Name: "sticky"},
		{Name: "reward"},
		{Name: "query"},
		{Name: "alpha"},
		{Name: "min_samples"},
		{Name: "auto_promote"},
		{Name: "explore_floor"},
		{Name: "promote_when"},
	},
}

// Allowed values of the enumerated attributes.
var (
	routerTypes       = []string{"builtin", "nginx", "haproxy"}
	metricsTypes      = []string{"prometheus"}
	strategies        = []string{"all_at_once", "canary", "blue_green"}
	onFailures        = []string{"rollback", "fallback", "roll_through"}
	routerMetrics     = []string{"error_rate", "latency_p50", "latency_p90", "latency_p99", "ttfb_p50", "ttfb_p90", "ttfb_p99", "request_rate"}
	behaviourMetrics  = []string{"output_drift", "output_mean", "accuracy", "mae", "rmse", "log_loss"}
	compares          = []string{"exact", "json"}
	methods           = []string{"ab", "bandit"}
	validationMetrics = []string{"accuracy", "precision", "recall", "f1", "auc", "log_loss", "mae", "rmse"}
	baselines         = []string{"serve"}
)

// Defaults beyond the constants of model.go.
const (
	DefaultCheckSource      = "router"
	DefaultShadowPercent    = 100
	DefaultShadowCompare    = "exact"
	DefaultMinAgreement     = 0.99
	DefaultShadowMinSamples = 100
	DefaultMethod           = "ab"
	DefaultAlpha            = 0.05
	DefaultExpMinSamples    = 100
	DefaultExploreFloor     = 0.05
	DefaultPromoteWhen      = 0.95
	DefaultReward           = "feedback"
	DefaultValidationMetric = "accuracy"
	DefaultPositive         = "1"
)
