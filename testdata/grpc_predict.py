"""A gRPC predict service and client for the router's tests, on Debian's
python3-grpcio, without generated stubs: messages are raw bytes.

  grpc_predict.py serve VERSION [--fail CODE]
      Serves /switchyard.test.Predictor/Predict (unary: answers
      b"VERSION:" + the request, with trailing metadata x-version=VERSION,
      or fails with status CODE when CODE is not 0) and .../Stream (server
      streaming: three answers "VERSION:i:" + the request) and .../Chat
      (bidirectional: "VERSION:" + each message, as it comes) on 127.0.0.1, a
      free port, printed as "PORT n" once it serves. Runs until stdin
      closes.

  grpc_predict.py call TARGET MESSAGE [--ca FILE] [--meta KEY=VALUE]...
                  [--count N] [--stream | --chat K]
      Calls Predict (or Stream, or Chat) N times through TARGET (host:port;
      TLS when --ca names the CA to trust) and prints one JSON line per
      call: the answers, the status code's name, the details and trailing
      metadata. Chat (bidirectional) sends K messages in lockstep: each
      only after the answer to the one before.
"""

import json
import queue
import sys
import threading
from concurrent import futures

import grpc

SERVICE = "switchyard.test.Predictor"


def identity(b):
    return b


def serve(version, fail):
    def predict(request, context):
        context.set_trailing_metadata((("x-version", version),))
        if fail:
            context.abort(code_of(fail), version + " fails")
        return version.encode() + b":" + request

    def stream(request, context):
        context.set_trailing_metadata((("x-version", version),))
        for i in range(3):
            yield ("%s:%d:" % (version, i)).encode() + request

    def chat(requests, context):
        context.set_trailing_metadata((("x-version", version),))
        for r in requests:
            yield version.encode() + b":" + r

    handler = grpc.method_handlers_generic_handler(SERVICE, {
        "Predict": grpc.unary_unary_rpc_method_handler(
            predict, request_deserializer=identity, response_serializer=identity),
        "Stream": grpc.unary_stream_rpc_method_handler(
            stream, request_deserializer=identity, response_serializer=identity),
        "Chat": grpc.stream_stream_rpc_method_handler(
            chat, request_deserializer=identity, response_serializer=identity),
    })
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=8))
    server.add_generic_rpc_handlers((handler,))
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    print("PORT %d" % port, flush=True)
    done = threading.Event()

    def wait_stdin():
        sys.stdin.read()
        done.set()

    threading.Thread(target=wait_stdin, daemon=True).start()
    done.wait()
    server.stop(0)


def code_of(n):
    for c in grpc.StatusCode:
        if c.value[0] == n:
            return c
    raise SystemExit("unknown status code %d" % n)


def call(target, message, ca, meta, count, stream, chat):
    if ca:
        with open(ca, "rb") as f:
            creds = grpc.ssl_channel_credentials(root_certificates=f.read())
        channel = grpc.secure_channel(target, creds)
    else:
        channel = grpc.insecure_channel(target)
    method = "/%s/%s" % (SERVICE, "Chat" if chat else "Stream" if stream else "Predict")
    if chat:
        stub = channel.stream_stream(method, request_serializer=identity, response_deserializer=identity)
    elif stream:
        stub = channel.unary_stream(method, request_serializer=identity, response_deserializer=identity)
    else:
        stub = channel.unary_unary(method, request_serializer=identity, response_deserializer=identity)
    for _ in range(count):
        out = {"answers": [], "code": "OK", "details": "", "trailers": {}}
        try:
            if chat:
                answered = queue.Queue()

                def lockstep():
                    for i in range(chat):
                        yield ("%s%d" % (message, i)).encode()
                        answered.get(timeout=10)

                it = stub(lockstep(), metadata=meta, timeout=10)
                for m in it:
                    out["answers"].append(m.decode())
                    answered.put(True)
                trailers = it.trailing_metadata()
            elif stream:
                it = stub(message.encode(), metadata=meta, timeout=10)
                for m in it:
                    out["answers"].append(m.decode())
                trailers = it.trailing_metadata()
            else:
                answer, c = stub.with_call(message.encode(), metadata=meta, timeout=10)
                out["answers"].append(answer.decode())
                trailers = c.trailing_metadata()
        except grpc.RpcError as e:
            out["code"] = e.code().name
            out["details"] = e.details() or ""
            trailers = e.trailing_metadata()
        out["trailers"] = {k: v for k, v in (trailers or ())}
        print(json.dumps(out, sort_keys=True), flush=True)
    channel.close()


def main(argv):
    if len(argv) >= 2 and argv[0] == "serve":
        fail = 0
        if len(argv) == 4 and argv[2] == "--fail":
            fail = int(argv[3])
        serve(argv[1], fail)
        return
    if len(argv) >= 3 and argv[0] == "call":
        target, message, rest = argv[1], argv[2], argv[3:]
        ca, meta, count, stream, chat = None, [], 1, False, 0
        while rest:
            flag = rest.pop(0)
            if flag == "--ca":
                ca = rest.pop(0)
            elif flag == "--meta":
                k, v = rest.pop(0).split("=", 1)
                meta.append((k, v))
            elif flag == "--count":
                count = int(rest.pop(0))
            elif flag == "--stream":
                stream = True
            elif flag == "--chat":
                chat = int(rest.pop(0))
            else:
                raise SystemExit("unknown flag " + flag)
        call(target, message, ca, meta, count, stream, chat)
        return
    raise SystemExit(__doc__)


if __name__ == "__main__":
    main(sys.argv[1:])
