# How production traffic reaches model servers.
package switchyard

# Production versions should be reached over https. This warns for
# loopback addresses (127.0.0.1, localhost) too: the policy cannot tell a
# sidecar from a mistake; copy this file and exempt them if you run model
# servers beside the router.
warn contains finding(m, sprintf("versions.%s.url", [v]), "https_in_production", msg) if {
	some m in input.models
	is_production(m)
	some v, ver in m.versions
	startswith(lower(ver.url), "http://")
	msg := sprintf("version %s is reached over plain http (%s) in production: use https", [v, ver.url])
}
