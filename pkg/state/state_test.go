package state

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

func TestSaveLoadReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok, err := s.Load("fraud/production"); err != nil || ok {
		t.Fatalf("Load on empty store = ok %v, err %v; want nothing", ok, err)
	}
	if err := s.Save("fraud/production", []byte(`{"step":2}`)); err != nil {
		t.Fatal(err)
	}
	if err := s.Save("search/staging", []byte(`{"step":0}`)); err != nil {
		t.Fatal(err)
	}
	if err := s.Save("search/staging", []byte(`{"step":1}`)); err != nil {
		t.Fatal(err)
	}
	if err := s.Save("", []byte(`x`)); err == nil {
		t.Fatal("Save with empty key: want error")
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s, err = Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	v, ok, err := s.Load("fraud/production")
	if err != nil || !ok || string(v) != `{"step":2}` {
		t.Fatalf("after reopen Load = %q, %v, %v", v, ok, err)
	}
	all, err := s.All()
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 2 || string(all["search/staging"]) != `{"step":1}` {
		t.Fatalf("All = %q", all)
	}
	if err := s.Delete("search/staging"); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := s.Load("search/staging"); ok {
		t.Fatal("deleted key still present")
	}
}

// TestDurableWithoutClose saves in a child process that is killed with
// SIGKILL right after Save returns, then reads the file back.
func TestDurableWithoutClose(t *testing.T) {
	if os.Getenv("STATE_TEST_CHILD") != "" {
		s, err := Open(os.Getenv("STATE_TEST_CHILD"))
		if err != nil {
			os.Exit(3)
		}
		if err := s.Save("fraud/production", []byte(`{"step":3}`)); err != nil {
			os.Exit(4)
		}
		os.Stdout.WriteString("saved\n")
		select {} // wait to be killed
	}
	path := filepath.Join(t.TempDir(), "state.db")
	cmd := exec.Command(os.Args[0], "-test.run=^TestDurableWithoutClose$")
	cmd.Env = append(os.Environ(), "STATE_TEST_CHILD="+path)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 6)
	if _, err := out.Read(buf); err != nil || string(buf[:5]) != "saved" {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		t.Fatalf("child did not save: %q %v", buf, err)
	}
	_ = cmd.Process.Kill() // like kill -9: no Close
	_ = cmd.Wait()

	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	v, ok, err := s.Load("fraud/production")
	if err != nil || !ok || string(v) != `{"step":3}` {
		t.Fatalf("after kill Load = %q, %v, %v", v, ok, err)
	}
}

func TestOpenMissingDirFails(t *testing.T) {
	if _, err := Open(filepath.Join(t.TempDir(), "missing", "state.db")); err == nil {
		t.Fatal("Open in a missing directory: want error")
	}
}
