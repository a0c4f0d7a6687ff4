package rawconn

import "net"

// Listener returns ln with every connection it accepts wrapped (Wrap), for
// a listener that others wrap in turn: tls.NewListener(Listener(ln), cfg)
// gives *tls.Conn whose reads and writes underneath are raw. Accept's
// errors are ln's own.
func Listener(ln net.Listener) net.Listener { return listener{ln} }

type listener struct{ net.Listener }

func (l listener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return c, err
	}
	return Wrap(c), nil
}
