package rawconn_test

import (
	"io"
	"os"
	"os/exec"
	"runtime"
	"testing"
	"time"
)

// TestBlockingSocket: a socket put in blocking mode behind the
// connection's back (os.File.Fd on a File from the connection does it to
// the open file description both share) must not make a read stall the
// program. net's read then blocks in a system call the scheduler knows
// of; a raw read that blocked would hold its thread where the scheduler
// cannot take it back, and the next garbage collection, which stops every
// goroutine, would freeze the whole process until the read's bytes came.
// A frozen process cannot fail its own test, so each kind runs in a
// child process that this test kills if it does not finish.
func TestBlockingSocket(t *testing.T) {
	if name := os.Getenv("RAWCONN_TEST_BLOCKING"); name != "" {
		for _, k := range kinds() {
			if k.name == name {
				blockingRead(t, k)
			}
		}
		return
	}
	for _, k := range kinds() {
		t.Run(k.name, func(t *testing.T) {
			cmd := exec.Command(os.Args[0], "-test.run=^TestBlockingSocket$", "-test.count=1", "-test.v")
			cmd.Env = append(os.Environ(), "RAWCONN_TEST_BLOCKING="+k.name)
			out := make(chan []byte, 1)
			errc := make(chan error, 1)
			go func() {
				b, err := cmd.CombinedOutput()
				out <- b
				errc <- err
			}()
			select {
			case err := <-errc:
				if err != nil {
					t.Fatalf("%v:\n%s", err, <-out)
				}
			case <-time.After(4 * bound):
				cmd.Process.Kill()
				<-errc
				t.Fatalf("the process froze: a garbage collection waited for a read of a blocking socket\n%s", <-out)
			}
		})
	}
}

func blockingRead(t *testing.T, k kind) {
	e := newEnv(t, k, options{})
	f, err := e.tcp.File()
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	f.Fd() // the shared description is blocking from here on
	got := e.readBehind(10)
	time.Sleep(20 * time.Millisecond) // the read waits by now, mostly
	runtime.GC()
	e.peer.Write([]byte("data"))
	if r := <-got; r.err != nil || r.n != 4 {
		t.Fatalf("read = %d, %v", r.n, r.err)
	}
	// And a write: net's blocks in the kernel until the peer reads.
	wrote := e.writeBehind(pattern(8 << 20))
	e.waitSome(e.peer)
	time.Sleep(20 * time.Millisecond)
	runtime.GC()
	go io.ReadFull(e.peer, make([]byte, 8<<20))
	if r := <-wrote; r.err != nil || r.n != 8<<20 {
		t.Fatalf("write = %d, %v", r.n, r.err)
	}
}
