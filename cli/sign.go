package cli

import (
	"fmt"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/thumbd/thumbd/signing"
	"github.com/thumbd/thumbd/storage"
	"github.com/thumbd/thumbd/thumburl"
	"github.com/thumbd/thumbd/transform"
)

func sign(env Env, args []string) error {
	fs := pflag.NewFlagSet("sign", pflag.ContinueOnError)
	fs.SetOutput(env.Stderr)
	sizes := fs.StringArray("size", nil, "size to sign (repeatable): "+strings.Join(transform.SizeNames(), ", "))
	base := fs.String("base", "", "prefix for the printed paths, e.g. https://img.example.com")
	expires := fs.String("expires", "", "link lifetime (90s, 12h, 30d) or RFC 3339 time; default never")
	cfg, _, err := loadConfig(env, fs, args)
	if err != nil {
		return err
	}
	if len(*sizes) == 0 {
		return fmt.Errorf("sign: give at least one --size")
	}
	if fs.NArg() == 0 {
		return fmt.Errorf("sign: give at least one PATH or HASH")
	}
	for _, sz := range *sizes {
		if _, err := thumburl.Parse(strings.Repeat("0", 40), "x", sz); err != nil {
			return fmt.Errorf("sign: --size %q: unknown size (one of %s)", sz, strings.Join(transform.SizeNames(), ", "))
		}
	}
	exp, err := parseExpiry(*expires, time.Now())
	if err != nil {
		return err
	}
	signer, err := signing.New(cfg.Keys, cfg.Public)
	if err != nil {
		return fmt.Errorf("config: %w", err)
	}
	prefix := strings.TrimRight(*base, "/")
	for _, arg := range fs.Args() {
		hash := strings.ToLower(arg)
		if !thumburl.IsHash(hash) {
			if hash, err = storage.HashPath(cfg.Originals, arg); err != nil {
				return fmt.Errorf("sign: %w", err)
			}
		}
		for _, sz := range *sizes {
			// The token covers the size name; an extension only picks the format.
			name, _, _ := strings.Cut(sz, ".")
			tok, err := signer.Sign(hash, name, exp)
			if err != nil {
				return fmt.Errorf("sign: %w", err)
			}
			fmt.Fprintln(env.Stdout, prefix+thumburl.Path(hash, tok, sz))
		}
	}
	return nil
}
