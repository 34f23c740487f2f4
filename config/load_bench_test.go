package config

import (
	"os"
	"path/filepath"
	"testing"
)

// BenchmarkLoadRealConfig loads tests/configs/django_prod.ini, the
// longest of the realistic configurations (prints the time per load).
func BenchmarkLoadRealConfig(b *testing.B) {
	file, err := filepath.Abs("../tests/configs/django_prod.ini")
	if err != nil {
		b.Fatal(err)
	}
	env := append(os.Environ(), "PORT=9999", "RUNDIR=/tmp")
	for b.Loop() {
		if _, err := Load([]string{"--ini", file}, env); err != nil {
			b.Fatal(err)
		}
	}
}
