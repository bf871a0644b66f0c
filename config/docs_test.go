package config_test

import (
	"os"
	"regexp"
	"strings"
	"testing"
)

// Every key the embedded config.yaml documents is in the README's
// configuration table, so the docs cannot drift from the code.
func TestEveryKeyIsInTheREADME(t *testing.T) {
	cfg, err := os.ReadFile("../config.yaml")
	if err != nil {
		t.Fatal(err)
	}
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	var table []string
	for _, line := range strings.Split(string(readme), "\n") {
		if strings.HasPrefix(line, "| `") {
			table = append(table, strings.SplitN(line, "|", 3)[1])
		}
	}
	keys := regexp.MustCompile(`(?m)^([a-z_]+):`).FindAllStringSubmatch(string(cfg), -1)
	if len(keys) < 30 {
		t.Fatalf("only %d keys found in config.yaml", len(keys))
	}
	for _, k := range keys {
		found := false
		for _, cell := range table {
			if strings.Contains(cell, "`"+k[1]+"`") {
				found = true
			}
		}
		if !found {
			t.Errorf("config key %q has no row in the README's configuration table", k[1])
		}
	}
}
