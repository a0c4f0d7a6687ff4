package main

import (
	"os"
	"regexp"
	"sort"
	"strings"
	"testing"
)

var (
	helpFlag = regexp.MustCompile(`(?m)^\s+-([a-z][a-z0-9-]*)`)
	docFlag  = regexp.MustCompile("(?m)^\\| `--?([a-z][a-z0-9-]*)")
)

// TestCLIReferenceCoversEveryFlag runs every command with -h and checks
// that docs/cli.md has a section for it with a row for each flag it
// prints, and no row for a flag it lacks.
func TestCLIReferenceCoversEveryFlag(t *testing.T) {
	b, err := os.ReadFile("../../docs/cli.md")
	if err != nil {
		t.Fatal(err)
	}
	sections := map[string]string{}
	for _, sec := range strings.Split(string(b), "\n## reconciler ")[1:] {
		name, body, _ := strings.Cut(sec, "\n")
		sections[strings.TrimSpace(name)] = body
	}
	names := make([]string, 0, len(commands()))
	for n := range commands() {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, name := range names {
		sec, ok := sections[name]
		if !ok {
			t.Errorf("docs/cli.md has no section \"## reconciler %s\"", name)
			continue
		}
		_, _, help := runCommand(t, commands()[name].run, "-h")
		flags := map[string]bool{}
		for _, m := range helpFlag.FindAllStringSubmatch(help, -1) {
			flags[m[1]] = true
		}
		if len(flags) == 0 && name != "init" {
			t.Errorf("reconciler %s -h printed no flags:\n%s", name, help)
		}
		documented := map[string]bool{}
		for _, m := range docFlag.FindAllStringSubmatch(sec, -1) {
			documented[m[1]] = true
		}
		for f := range flags {
			if !documented[f] {
				t.Errorf("docs/cli.md: flag --%s of reconciler %s is not documented (a row \"| `--%s ...` |\" in its section)", f, name, f)
			}
		}
		for f := range documented {
			if !flags[f] {
				t.Errorf("docs/cli.md documents flag --%s of reconciler %s, which it does not have", f, name)
			}
		}
	}
	for name := range sections {
		if _, ok := commands()[name]; !ok {
			t.Errorf("docs/cli.md documents reconciler %s, which is not a command", name)
		}
	}
}
