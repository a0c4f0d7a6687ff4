package h1

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"strconv"
)

// Relay copies answer bodies to a client: sized ones as they are, the
// others re-chunked, flushing whenever the backend has sent nothing more
// (so that streamed answers stream, coalescing only what has arrived).
type Relay struct {
	// W is the client's buffered writer.
	W *bufio.Writer
	// Flush sends what W holds to the client; its error is a ClientError.
	Flush func() error
	// Seen sees every body byte just before it is written.
	Seen    func(p []byte)
	scratch [16]byte
}

// ClientError is a failed write to the client.
type ClientError struct{ Err error }

func (e ClientError) Error() string { return e.Err.Error() }
func (e ClientError) Unwrap() error { return e.Err }

// IsClientError reports a ClientError.
func IsClientError(err error) bool {
	_, ok := err.(ClientError)
	return ok
}

// errMalformedChunk: the backend's chunked body is not one.
var errMalformedChunk = errors.New("malformed chunked answer")

// chunkLineSize is the size a chunk's line (with its line end) gives, -1 when
// it gives none.
func chunkLineSize(line []byte) int64 {
	line = bytes.TrimSuffix(bytes.TrimSuffix(line, []byte("\n")), []byte("\r"))
	if i := bytes.IndexByte(line, ';'); i >= 0 {
		line = line[:i]
	}
	return ParseHex(TrimOWS(line))
}

// BadFirstChunk reports a chunked body on src, after the skip bytes of
// its head, whose first chunk's line is already buffered and gives no
// size: the answer is broken before any of its body could reach the
// client, so it is the version's failure (a 502, as nginx answers), not
// a head relayed and then cut off. A line not yet buffered is left for
// Copy to judge: the head of a stream goes out without waiting for it.
func BadFirstChunk(src *bufio.Reader, skip int) bool {
	b, _ := src.Peek(src.Buffered())
	if skip > len(b) {
		return false
	}
	b = b[skip:]
	i := bytes.IndexByte(b, '\n')
	return i >= 0 && chunkLineSize(b[:i+1]) < 0
}

// ErrMalformedChunk is the failure BadFirstChunk finds.
var ErrMalformedChunk = errMalformedChunk

// Copy copies the answer's body, framed as f (n bytes for FramingLength),
// from src to the client. Trailers are not passed on.
func (r *Relay) Copy(src *bufio.Reader, f Framing, n int64) error {
	switch f {
	case FramingLength:
		return r.copyN(src, n, false)
	case FramingClose:
		for {
			if src.Buffered() == 0 {
				if err := r.Flush(); err != nil {
					return err
				}
				if _, err := src.Peek(1); err == io.EOF {
					break
				} else if err != nil {
					return err
				}
			}
			if err := r.copyN(src, int64(src.Buffered()), true); err != nil {
				return err
			}
		}
	case FramingChunked:
		for {
			if err := r.flushUnlessLine(src); err != nil {
				return err
			}
			line, err := src.ReadSlice('\n')
			if err != nil {
				return err
			}
			size := chunkLineSize(line)
			if size < 0 {
				return errMalformedChunk
			}
			if size == 0 {
				for {
					if err := r.flushUnlessLine(src); err != nil {
						return err
					}
					l, err := src.ReadSlice('\n')
					if err != nil {
						return err
					}
					if len(bytes.TrimSpace(l)) == 0 {
						break
					}
				}
				break
			}
			if err := r.copyN(src, size, true); err != nil {
				return err
			}
			if err := r.flushUnlessLine(src); err != nil {
				return err
			}
			var end [2]byte
			if _, err := io.ReadFull(src, end[:]); err != nil {
				return err
			}
			if end != [2]byte{'\r', '\n'} {
				return errMalformedChunk
			}
		}
	}
	if f != FramingLength {
		if _, err := r.W.WriteString("0\r\n\r\n"); err != nil {
			return ClientError{err}
		}
	}
	return nil
}

// copyN copies n bytes from src to the client, as one chunk when chunked.
func (r *Relay) copyN(src *bufio.Reader, n int64, chunked bool) error {
	if chunked {
		r.W.Write(strconv.AppendInt(r.scratch[:0], n, 16))
		r.W.WriteString("\r\n")
	}
	for n > 0 {
		if src.Buffered() == 0 {
			if err := r.Flush(); err != nil {
				return err
			}
			if _, err := src.Peek(1); err != nil {
				if err == io.EOF {
					err = io.ErrUnexpectedEOF
				}
				return err
			}
		}
		p, _ := src.Peek(int(min(n, int64(src.Buffered()))))
		r.Seen(p)
		if _, err := r.W.Write(p); err != nil {
			return ClientError{err}
		}
		_, _ = src.Discard(len(p))
		n -= int64(len(p))
	}
	if chunked {
		if _, err := r.W.WriteString("\r\n"); err != nil {
			return ClientError{err}
		}
	}
	return nil
}

// flushUnlessLine flushes what is buffered for the client unless src
// already holds a whole line: the next read would wait for the backend.
func (r *Relay) flushUnlessLine(src *bufio.Reader) error {
	if r.W.Buffered() == 0 {
		return nil
	}
	if p, _ := src.Peek(src.Buffered()); bytes.IndexByte(p, '\n') >= 0 {
		return nil
	}
	return r.Flush()
}
