package main

import (
	"strings"
	"testing"
	"time"
)

func TestConfigFromEnv(t *testing.T) {
	env := map[string]string{
		"GITHUB_EVENT_NAME": "pull_request", "GITHUB_EVENT_PATH": "/e.json", "GITHUB_WORKSPACE": "/w",
		"GITHUB_REPOSITORY": "octo-org/models", "GITHUB_API_URL": "https://ghe.example.com/api/v3",
		"GITHUB_STEP_SUMMARY": "/s", "GITHUB_OUTPUT": "/o", "RUNNER_TEMP": "/tmp/r",
		"SWITCHYARD_GITHUB_TOKEN": "tok", "SWITCHYARD_PATH": "specs", "INPUT_POLICIES": "rules",
		"SWITCHYARD_COMMENT": "false", "SWITCHYARD_FAIL_ON_WARN": "true", "INPUT_VALIDATION-TIMEOUT": "3s",
	}
	cfg, err := configFromEnv(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	if cfg.EventName != "pull_request" || cfg.Token != "tok" || cfg.Path != "specs" || cfg.Policies != "rules" ||
		cfg.Comment || !cfg.OfflineValidation || !cfg.FailOnWarn || !cfg.RecordVerdicts || cfg.ValidationTimeout != 3*time.Second ||
		cfg.APIURL != "https://ghe.example.com/api/v3" || cfg.TempDir != "/tmp/r" || cfg.OutputPath != "/o" {
		t.Fatalf("%+v", cfg)
	}
	env["INPUT_RECORD-VERDICTS"] = "false"
	if cfg, err := configFromEnv(func(k string) string { return env[k] }); err != nil || cfg.RecordVerdicts {
		t.Fatalf("record-verdicts false: %v %v", cfg.RecordVerdicts, err)
	}
	env["SWITCHYARD_COMMENT"] = "maybe"
	if _, err := configFromEnv(func(k string) string { return env[k] }); err == nil || !strings.Contains(err.Error(), `input comment: "maybe" is not true or false`) {
		t.Fatalf("error %v", err)
	}
}
