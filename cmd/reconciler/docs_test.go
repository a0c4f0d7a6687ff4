package main

import (
	"os"
	"path/filepath"
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

var (
	invocation = regexp.MustCompile(`\breconciler ([a-z]+)\b([^\n]*)`)
	longFlag   = regexp.MustCompile(`(?:^|\s)--?([a-z][a-z0-9-]*)`)
)

// TestDocumentedInvocationsUseRealFlags checks every `reconciler COMMAND
// --flag` written in a code block of the README and docs/ (the systemd
// unit, the examples) against the flags that command takes.
func TestDocumentedInvocationsUseRealFlags(t *testing.T) {
	files, err := filepath.Glob("../../docs/*.md")
	if err != nil {
		t.Fatal(err)
	}
	files = append(files, "../../README.md")
	flagsOf := map[string]map[string]bool{}
	for name, c := range commands() {
		_, _, help := runCommand(t, c.run, "-h")
		flagsOf[name] = map[string]bool{"h": true, "help": true}
		for _, m := range helpFlag.FindAllStringSubmatch(help, -1) {
			flagsOf[name][m[1]] = true
		}
	}
	checked := 0
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		inBlock := false
		var lines []string
		for _, line := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(strings.TrimSpace(line), "```") {
				inBlock = !inBlock
				continue
			}
			if !inBlock {
				continue
			}
			// Join continued lines (a trailing backslash).
			if n := len(lines); n > 0 && strings.HasSuffix(lines[n-1], "\\") {
				lines[n-1] = strings.TrimSuffix(lines[n-1], "\\") + " " + line
				continue
			}
			lines = append(lines, line)
		}
		for _, line := range lines {
			code, _, _ := strings.Cut(line, "#") // comments may mention flags in prose
			for _, m := range invocation.FindAllStringSubmatch(code, -1) {
				flags, ok := flagsOf[m[1]]
				if !ok {
					continue // "reconciler COMMAND" in a usage line, or prose
				}
				for _, fm := range longFlag.FindAllStringSubmatch(m[2], -1) {
					checked++
					if !flags[fm[1]] {
						t.Errorf("%s: `reconciler %s` has no flag --%s:\n  %s", filepath.Base(f), m[1], fm[1], strings.TrimSpace(line))
					}
				}
			}
		}
	}
	if checked < 10 {
		t.Errorf("only %d documented flags found: the scan is broken", checked)
	}
}
