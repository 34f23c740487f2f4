package config

import (
	"os"
	"testing"
)

// TestReadmeTable fails when README.md's option table is not the one the
// table prints: run `go generate ./config`.
func TestReadmeTable(t *testing.T) {
	data, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	want, err := ReplaceTable(string(data))
	if err != nil {
		t.Fatalf("README.md: %v", err)
	}
	if want != string(data) {
		t.Fatal("README.md's option table differs from config/table.go: run `go generate ./config`")
	}
}
