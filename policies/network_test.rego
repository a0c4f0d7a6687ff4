package switchyard_test

import data.switchyard

test_http_in_production_warned if {
	m := object.union(good, {"versions": {"v7": {"url": "http://10.0.0.7:9102"}}})
	some f in switchyard.warn with input as {"models": [m]}
	f.rule == "https_in_production"
	f.field == "versions.v7.url"
}

test_http_loopback_in_production_warned_too if {
	m := object.union(good, {"versions": {"v7": {"url": "http://127.0.0.1:9102"}}})
	"https_in_production" in rules_of(switchyard.warn) with input as {"models": [m]}
}

test_http_in_staging_allowed if {
	m := object.union(staging, {"versions": {"v7": {"url": "http://10.0.0.7:9102"}}})
	not "https_in_production" in rules_of(switchyard.warn) with input as {"models": [m]}
}
