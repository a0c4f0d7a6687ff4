// Package h1 is the router's hand-written HTTP/1.1: it parses request and
// answer heads (strictly: whatever is not plain is left to net/http), gates
// the requests net/http reads (GateReader), relays answer bodies, and
// keeps the backend connections, reused only when provably clean, with the
// one retry rule. Routing, measurements, shadows and feedback are the
// router's (package router).
package h1
