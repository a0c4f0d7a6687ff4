package spec

import (
	"fmt"
	"net"
	"strings"
)

// RuntimeAPIAddr splits an HAProxy runtime API address, written as
// HAProxy's own `stats socket` takes it, into a network and an address for
// net.Dial: a unix socket ("/run/haproxy/admin.sock", "unix@/run/a.sock",
// a relative path, or "abns@name" for an abstract one) or TCP
// ("127.0.0.1:9999", "ipv4@127.0.0.1:9999", "ipv6@[::1]:9999"). local
// says whether it is on this host: a unix socket or a loopback address.
func RuntimeAPIAddr(s string) (network, addr string, local bool, err error) {
	if prefix, rest, ok := strings.Cut(s, "@"); ok && !strings.Contains(prefix, "/") {
		switch prefix {
		case "unix":
			if rest == "" {
				return "", "", false, fmt.Errorf("%q names no socket file after unix@", s)
			}
			return "unix", rest, true, nil
		case "abns":
			if rest == "" {
				return "", "", false, fmt.Errorf("%q names no abstract socket after abns@", s)
			}
			return "unix", "@" + rest, true, nil
		case "ipv4", "ipv6":
			return tcpRuntimeAPI(s, rest)
		default:
			return "", "", false, fmt.Errorf("%q: the runtime API is reached over a unix socket (a path, unix@ or abns@) or TCP (host:port, ipv4@ or ipv6@), not %s@", s, prefix)
		}
	}
	switch {
	case s == "":
		return "", "", false, fmt.Errorf("empty runtime API address")
	case strings.Contains(s, "/") || !strings.Contains(s, ":"):
		return "unix", s, true, nil
	}
	return tcpRuntimeAPI(s, s)
}

func tcpRuntimeAPI(s, hostport string) (string, string, bool, error) {
	host, port, err := net.SplitHostPort(hostport)
	if err != nil || port == "" {
		return "", "", false, fmt.Errorf("%q is not host:port (such as 127.0.0.1:9999)", s)
	}
	ip := net.ParseIP(host)
	return "tcp", hostport, host == "localhost" || (ip != nil && ip.IsLoopback()), nil
}
