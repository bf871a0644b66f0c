// Command thumbd serves signed thumbnails of a read-only photo library.
package main

import (
	"context"
	_ "embed"
	"os"

	"github.com/thumbd/thumbd/cli"
	"github.com/thumbd/thumbd/transform"
)

// defaultConfig is config.yaml, compiled in: the documented defaults.
//
//go:embed config.yaml
var defaultConfig []byte

func main() {
	// Before anything starts libvips' threads (see LimitArenas).
	transform.LimitArenas()
	os.Exit(cli.Run(context.Background(), cli.Env{Defaults: defaultConfig, Stdout: os.Stdout, Stderr: os.Stderr}, os.Args[1:]))
}
