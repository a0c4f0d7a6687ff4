package policy_test

import (
	"testing"

	"github.com/switchyard-dev/switchyard/pkg/policy/policytest"
)

const defaultPolicies = "../../policies"

// TestDefaultPolicyRegoTests runs the Rego unit tests of policies/ (the
// *_test.rego files) the way `opa test policies/` would.
func TestDefaultPolicyRegoTests(t *testing.T) {
	n := policytest.Run(t, defaultPolicies)
	t.Logf("%d Rego tests", n)
}
