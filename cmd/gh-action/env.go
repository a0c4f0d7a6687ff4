package main

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/switchyard-dev/switchyard/pkg/action"
)

// input reads an action input: the SWITCHYARD_* variable action.yml sets,
// else the INPUT_* variable the runner sets for other kinds of actions.
func input(getenv func(string) string, name, def string) string {
	key := strings.ToUpper(strings.ReplaceAll(name, "-", "_"))
	if v := strings.TrimSpace(getenv("SWITCHYARD_" + key)); v != "" {
		return v
	}
	if v := strings.TrimSpace(getenv("INPUT_" + strings.ToUpper(name))); v != "" {
		return v
	}
	return def
}

func boolInput(getenv func(string) string, name string, def bool) (bool, error) {
	v := input(getenv, name, strconv.FormatBool(def))
	switch strings.ToLower(v) {
	case "true", "yes", "1", "on":
		return true, nil
	case "false", "no", "0", "off":
		return false, nil
	}
	return false, fmt.Errorf("input %s: %q is not true or false", name, v)
}

// configFromEnv gathers the action's configuration from the workflow's
// environment (GITHUB_* variables and the inputs).
func configFromEnv(getenv func(string) string) (action.Config, error) {
	cfg := action.Config{
		EventName:   getenv("GITHUB_EVENT_NAME"),
		EventPath:   getenv("GITHUB_EVENT_PATH"),
		Workspace:   getenv("GITHUB_WORKSPACE"),
		Repository:  getenv("GITHUB_REPOSITORY"),
		APIURL:      getenv("GITHUB_API_URL"),
		ServerURL:   getenv("GITHUB_SERVER_URL"),
		RunID:       getenv("GITHUB_RUN_ID"),
		SummaryPath: getenv("GITHUB_STEP_SUMMARY"),
		OutputPath:  getenv("GITHUB_OUTPUT"),
		Token:       input(getenv, "github-token", ""),
		Path:        input(getenv, "path", "rollouts"),
		Policies:    input(getenv, "policies", "policies"),
		TempDir:     getenv("RUNNER_TEMP"),
	}
	var err error
	if cfg.Comment, err = boolInput(getenv, "comment", true); err != nil {
		return cfg, err
	}
	if cfg.OfflineValidation, err = boolInput(getenv, "offline-validation", true); err != nil {
		return cfg, err
	}
	if cfg.FailOnWarn, err = boolInput(getenv, "fail-on-warn", false); err != nil {
		return cfg, err
	}
	if cfg.RecordVerdicts, err = boolInput(getenv, "record-verdicts", true); err != nil {
		return cfg, err
	}
	if v := input(getenv, "validation-timeout", ""); v != "" {
		if cfg.ValidationTimeout, err = time.ParseDuration(v); err != nil || cfg.ValidationTimeout <= 0 {
			return cfg, fmt.Errorf("input validation-timeout: %q is not a duration such as 10s", v)
		}
	}
	return cfg, nil
}
