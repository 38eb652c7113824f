"""A controllable HTTP/1.1 upstream for the integration tests, on 127.0.0.1 and a free port.

Paths:
  /echo...            JSON of what arrived: method, path, headers, body length
  /sse?n=N            N server-sent events; after the first it waits for `release` (a threading.Event)
  /slow?ms=M          waits M ms before answering
  /big?bytes=N        N bytes of body, chunked, produced on the fly
  /upload             reads the body in chunks (never whole) and answers its length and a checksum
  /status/CODE        answers CODE
  /close              closes the connection without answering
  /malformed          answers bytes that are not HTTP
Each server counts its requests and its connections, for retry and keep-alive tests.
"""
import json
import socket
import threading
import time
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse


class Upstream:
    def __init__(self, name="up"):
        self.name = name
        self.requests = 0
        self.connections = 0
        self.paths = []
        self.release = threading.Event()
        self.lock = threading.Lock()
        upstream = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def setup(self):
                super().setup()
                # Head and body go out in two writes: without NODELAY, Nagle holds the body for
                # the peer's delayed ACK (40 ms) and every request looks slow.
                self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                with upstream.lock:
                    upstream.connections += 1

            def log_message(self, *args):
                pass

            def _count(self):
                with upstream.lock:
                    upstream.requests += 1
                    upstream.paths.append(self.path)

            def do_GET(self):
                self._handle()

            do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = do_GET

            def _body_chunks(self):
                if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                    while True:
                        size = int(self.rfile.readline().strip().split(b";")[0], 16)
                        if size == 0:
                            while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                                pass
                            return
                        left = size
                        while left:
                            part = self.rfile.read(min(left, 1 << 16))
                            left -= len(part)
                            yield part
                        self.rfile.readline()
                else:
                    left = int(self.headers.get("Content-Length") or 0)
                    while left:
                        part = self.rfile.read(min(left, 1 << 16))
                        if not part:
                            return
                        left -= len(part)
                        yield part

            def _reply(self, code, body=b"", ctype="application/json", extra=None):
                self.send_response(code)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.send_header("X-Upstream", upstream.name)
                for k, v in (extra or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(body)

            def _chunk(self, data):
                self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
                self.wfile.flush()

            def _handle(self):
                self._count()
                url = urlparse(self.path)
                q = parse_qs(url.query)
                p = url.path
                if p.startswith("/sse"):
                    n = int(q.get("n", ["3"])[0])
                    self.send_response(200)
                    self.send_header("Content-Type", "text/event-stream")
                    self.send_header("Transfer-Encoding", "chunked")
                    self.end_headers()
                    for i in range(n):
                        self._chunk(b"data: event-%d\n\n" % i)
                        if i == 0:
                            upstream.release.wait(10)
                    self.wfile.write(b"0\r\n\r\n")
                    return
                if p.startswith("/slow"):
                    for _ in self._body_chunks():
                        pass
                    time.sleep(int(q.get("ms", ["1000"])[0]) / 1000)
                    return self._reply(200, b'{"slow":true}')
                if p.startswith("/big"):
                    n = int(q.get("bytes", ["1048576"])[0])
                    self.send_response(200)
                    self.send_header("Content-Type", "application/octet-stream")
                    self.send_header("Content-Length", str(n))
                    self.end_headers()
                    block = b"x" * (1 << 16)
                    while n > 0:
                        part = block[: min(n, len(block))]
                        self.wfile.write(part)
                        n -= len(part)
                    return
                if p.startswith("/upload"):
                    total, crc = 0, 0
                    for part in self._body_chunks():
                        total += len(part)
                        crc = zlib.crc32(part, crc)
                    return self._reply(200, json.dumps({"bytes": total, "crc32": crc}).encode())
                if p.startswith("/status/"):
                    for _ in self._body_chunks():
                        pass
                    return self._reply(int(p.rsplit("/", 1)[1]), b'{"status":"as asked"}')
                if p.startswith("/close"):
                    self.close_connection = True
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return
                if p.startswith("/malformed"):
                    self.wfile.write(b"this is not http\r\n\r\n")
                    self.close_connection = True
                    return
                size = sum(len(part) for part in self._body_chunks())
                body = json.dumps({
                    "upstream": upstream.name,
                    "method": self.command,
                    "path": self.path,
                    "headers": {k.lower(): v for k, v in self.headers.items()},
                    "body_bytes": size,
                }).encode()
                self._reply(200, body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


def free_port():
    """A port that nothing listens on (for 'upstream down' tests)."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port
