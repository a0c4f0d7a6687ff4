package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/switchyard-dev/switchyard/pkg/ha"
	"github.com/switchyard-dev/switchyard/pkg/wiring"
)

// cmdRun runs the GitOps reconciler until interrupted.
func cmdRun(ctx context.Context, e *env, args []string) int {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	repo := fs.String("repo", "", "the spec repository: an https or ssh URL, or a local path (required)")
	branch := fs.String("branch", "main", "the branch to follow and write to")
	path := fs.String("path", "rollouts", "the spec directory inside the repository")
	policies := fs.String("policies", "policies", "the policy directory inside the repository")
	interval := fs.Duration("interval", 30*time.Second, "how often to fetch the repository without a webhook")
	listen := fs.String("listen", "127.0.0.1:9400", "address of the status API, metrics and webhook")
	stateFile := fs.String("state", "switchyard.db", "the state file; a restart resumes from it")
	workDir := fs.String("workdir", "", "where the local clone lives (default: beside --state)")
	push := fs.String("push", "direct", "how outcome commits reach the remote: direct | pr")
	tokenEnv := fs.String("token-env", "SWITCHYARD_GIT_TOKEN", "environment variable holding the HTTPS token for --repo")
	sshKey := fs.String("ssh-key", "", "private key file for an ssh --repo")
	webhookEnv := fs.String("webhook-secret-env", "SWITCHYARD_WEBHOOK_SECRET", "environment variable holding the GitHub webhook secret (unset: no webhook)")
	ghAPI := fs.String("github-api", "", "GitHub Enterprise API URL for --push pr, e.g. https://HOST/api/v3/ (default: github.com)")
	ghTokenEnv := fs.String("github-token-env", "GITHUB_TOKEN", "environment variable holding the GitHub token for --push pr and deployment statuses")
	ghDeployments := fs.Bool("github-deployments", true, "with a GitHub token, report each rollout as a GitHub deployment with statuses")
	ghRepo := fs.String("github-repo", "", "OWNER/NAME of the repository the deployments are reported on and --push pr opens pull requests on (default: from a github.com --repo)")
	statusURL := fs.String("status-url", "", "the status page's public URL, linked from each GitHub deployment status")
	statusTokenEnv := fs.String("status-token-env", "", "environment variable holding the bearer token that the status page, /api/status and /metrics need (unset: open)")
	logFormat := fs.String("log", "text", "log format: text | json")
	etcdEndpoints := fs.String("etcd-endpoints", "", "comma-separated etcd client URLs: run as one of several replicas electing a leader, state in etcd")
	etcdPrefix := fs.String("etcd-prefix", ha.DefaultPrefix, "the etcd key prefix the replicas share")
	id := fs.String("id", "", "this replica's name in the election (default: the host name and pid)")
	leaseTTL := fs.Duration("lease-ttl", ha.DefaultLeaseTTL, "how long a leader that lost etcd may still act; whole seconds")
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	if *repo == "" {
		fmt.Fprintln(e.stderr, "reconciler run: --repo is required (a URL or a local path)")
		return exitUsage
	}
	if *push != "direct" && *push != "pr" {
		fmt.Fprintf(e.stderr, "reconciler run: --push must be direct or pr, not %q\n", *push)
		return exitUsage
	}
	var statusToken string
	if *statusTokenEnv != "" {
		if statusToken = e.getenv(*statusTokenEnv); statusToken == "" {
			fmt.Fprintf(e.stderr, "reconciler run: --status-token-env %s: the variable is empty or unset\n", *statusTokenEnv)
			return exitUsage
		}
	}
	var handler slog.Handler = slog.NewTextHandler(e.stderr, nil)
	if *logFormat == "json" {
		handler = slog.NewJSONHandler(e.stderr, nil)
	}
	logger := slog.New(handler)
	st, _ := filepath.Abs(*stateFile)
	opts := wiring.Options{
		Repo: *repo, Branch: *branch, Path: *path, Policies: *policies,
		WorkDir: *workDir, State: st, Listen: *listen, PollInterval: *interval,
		Push: *push, Token: e.getenv(*tokenEnv), SSHKeyFile: *sshKey,
		WebhookSecret: []byte(e.getenv(*webhookEnv)), StatusToken: statusToken,
		GitHubAPI: *ghAPI, GitHubToken: e.getenv(*ghTokenEnv),
		GitHubDeployments: *ghDeployments, GitHubRepo: *ghRepo, StatusURL: *statusURL,
		Getenv: e.getenv, Logger: logger,
	}
	if *etcdEndpoints != "" {
		name := *id
		if name == "" {
			host, _ := os.Hostname()
			name = fmt.Sprintf("%s-%d", host, os.Getpid())
		}
		if *leaseTTL < time.Second || *leaseTTL%time.Second != 0 {
			fmt.Fprintf(e.stderr, "reconciler run: --lease-ttl must be whole seconds, at least 1s, not %s\n", *leaseTTL)
			return exitUsage
		}
		var eps []string
		for _, ep := range strings.Split(*etcdEndpoints, ",") {
			if ep = strings.TrimSpace(ep); ep != "" {
				eps = append(eps, ep)
			}
		}
		opts.Etcd = &ha.Config{Endpoints: eps, Prefix: *etcdPrefix, ID: name, LeaseTTL: *leaseTTL, Logger: logger}
	}
	running, err := wiring.Start(ctx, opts)
	if err != nil {
		fmt.Fprintf(e.stderr, "reconciler run: %v\n", err)
		return exitUsage
	}
	defer running.Close()
	logger.Info("reconciler started", "repo", *repo, "branch", *branch, "listen", running.Addr, "state", st)
	if err := running.Run(ctx); err != nil {
		fmt.Fprintf(e.stderr, "reconciler run: %v\n", err)
		return exitUsage
	}
	return exitOK
}
