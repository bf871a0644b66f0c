// Package vipscli runs the vips command-line tool to make test fixtures.
//
// libvips 8.14 (Debian bookworm) linked with libheif 1.17 or later (from
// bookworm-backports, which thumbd needs for current iPhone files) reports
// every HEIF/AVIF save as failed after writing the whole file: its writer
// callback returns an error without a message, which newer libheif treats
// as a failure. thumbd's own AVIF output goes through libheif directly
// (transform/avif.go); fixtures made with the CLI accept exactly that one
// message.
package vipscli

import (
	"bytes"
	"os/exec"
)

// nullText is libheif's complaint about libvips 8.14's writer callback.
var nullText = []byte("heif_writer callback returned a null error text")

// Run runs vips with args and returns its combined output.
func Run(args ...string) ([]byte, error) {
	out, err := exec.Command("vips", args...).CombinedOutput()
	if err != nil && benign(out) {
		return out, nil
	}
	return out, err
}

// benign: every line of output is the writer-callback complaint.
func benign(out []byte) bool {
	lines := bytes.Split(bytes.TrimSpace(out), []byte("\n"))
	for _, l := range lines {
		if !bytes.Contains(l, nullText) {
			return false
		}
	}
	return len(lines) > 0
}
