package state

import (
	"path/filepath"
	"testing"
)

// BenchmarkSave measures one durable Save (a bbolt transaction with fsync).
func BenchmarkSave(b *testing.B) {
	s, err := Open(filepath.Join(b.TempDir(), "state.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	v := make([]byte, 512)
	for b.Loop() {
		if err := s.Save("fraud/production", v); err != nil {
			b.Fatal(err)
		}
	}
}
