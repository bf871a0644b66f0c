// Package cli implements the thumbd commands: serve, sign, links, export, index,
// health and version. Each parses its flags, loads the config and builds
// its parts with app.New.
// main.go only hands it the embedded defaults and the process arguments.
package cli

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/thumbd/thumbd/transform"
)

// Version is set at build time with -ldflags "-X .../cli.Version=v1.2.3".
var Version = ""

// DevKey signs links in --dev mode only, which refuses non-loopback
// addresses: the key is public, so links minted with it protect nothing.
const DevKey = "thumbd-dev-key-not-secret-do-not-deploy"

// Env is what a command needs from the process.
type Env struct {
	Defaults []byte // the embedded config.yaml
	Stdout   io.Writer
	Stderr   io.Writer
}

const usage = `usage:
  thumbd serve [--config FILE] [--dev] [--listen ADDR] [--originals DIR]
  thumbd sign  [--config FILE] [--dev] --size SIZE [--size SIZE ...] [--base URL] [--expires 30d|RFC3339]
               [--format url|html|markdown|json] [--alt TEXT] PATH|HASH ...
  thumbd links [--config FILE] [--dev] [--size SIZE ...] [--base URL] [--expires D] [--format json|csv] [DIR|GLOB ...]
  thumbd export [--config FILE] --out DIR [--size SIZE ...] [--format json|csv] [--base-url /photos/] [--manifest FILE]
               [--prune] [--workers N] [DIR|GLOB ...]
  thumbd index [--config FILE] [--index-file FILE] [--render SIZE,SIZE...]
  thumbd health [--url URL]
  thumbd version
`

// Run executes one command and returns the process exit code.
func Run(ctx context.Context, env Env, args []string) int {
	if len(args) == 0 {
		fmt.Fprint(env.Stderr, usage)
		return 2
	}
	var err error
	switch args[0] {
	case "serve":
		err = serve(ctx, env, args[1:])
	case "sign":
		err = sign(ctx, env, args[1:])
	case "index":
		err = indexCmd(ctx, env, args[1:])
	case "links":
		err = linksCmd(ctx, env, args[1:])
	case "export":
		err = exportCmd(ctx, env, args[1:])
	case "health":
		err = health(env, args[1:])
	case "version", "--version", "-v":
		fmt.Fprintln(env.Stdout, "thumbd", version(), "libvips", transform.VipsVersion(), "libheif", transform.HeifVersion())
		return 0
	case "help", "-h", "--help":
		fmt.Fprint(env.Stdout, usage)
		return 0
	default:
		fmt.Fprintf(env.Stderr, "thumbd: unknown command %q\n%s", args[0], usage)
		return 2
	}
	if err != nil {
		if err == pflag.ErrHelp {
			return 0
		}
		fmt.Fprintln(env.Stderr, "thumbd:", err)
		return 1
	}
	return 0
}

func version() string {
	if Version != "" {
		return Version
	}
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" && len(s.Value) >= 12 {
				return "dev-" + s.Value[:12]
			}
		}
	}
	return "dev"
}

// parseExpiry accepts a duration (90s, 12h, 30d) or an RFC 3339 time.
func parseExpiry(s string, now time.Time) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		if !t.After(now) {
			return time.Time{}, fmt.Errorf("--expires: %s is in the past", s)
		}
		return t, nil
	}
	d, err := parseDuration(s)
	if err != nil || d <= 0 {
		return time.Time{}, fmt.Errorf("--expires: %q is neither a positive duration (90s, 12h, 30d) nor an RFC 3339 time", s)
	}
	return now.Add(d).Truncate(time.Second), nil
}

func parseDuration(s string) (time.Duration, error) {
	if n, ok := strings.CutSuffix(s, "d"); ok {
		// Days only as a plain number ("30d", "1.5d"); mixed units such as
		// "1h30d" are ambiguous and refused.
		days, err := strconv.ParseFloat(n, 64)
		if err != nil || days <= 0 || days > 36500 || strings.ContainsAny(n, "eE+-") {
			return 0, fmt.Errorf("bad day count %q", s)
		}
		return time.Duration(days * float64(24*time.Hour)), nil
	}
	return time.ParseDuration(s)
}

// health is the container HEALTHCHECK: slim images carry no curl.
func health(env Env, args []string) error {
	fs := pflag.NewFlagSet("health", pflag.ContinueOnError)
	fs.SetOutput(env.Stderr)
	u := fs.String("url", "http://127.0.0.1:8080/healthz", "health endpoint")
	if err := fs.Parse(args); err != nil {
		return err
	}
	client := &http.Client{Timeout: 3 * time.Second}
	resp, err := client.Get(*u)
	if err != nil {
		return fmt.Errorf("health: %w", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("health: %s answered %d", *u, resp.StatusCode)
	}
	return nil
}
