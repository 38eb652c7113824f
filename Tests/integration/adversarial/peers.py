"""Hostile and strict peers for the adversarial suite: they speak HTTP/1.1 on raw sockets, so
the tests see exactly what crossed the wire, bounded in size and time."""
import json
import socket
import threading


class RawUpstream:
    """A strict HTTP/1.1 upstream on 127.0.0.1 that logs every request it parses.

    Framing as RFC 9112 §6 says: chunked when Transfer-Encoding says so, else Content-Length,
    else no body. Each answer names the request it answers (its sequence number and path), so
    a test can tell whether a client got another request's answer. `extra_answers` makes it
    answer each request that many more times, in the same write (a hostile upstream)."""

    def __init__(self, extra_answers=0):
        self.extra_answers = extra_answers
        self.lock = threading.Lock()
        self.log = []  # (method, path, body) of every request parsed
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def paths(self):
        with self.lock:
            return [p for _, p, _ in self.log]

    def _accept(self):
        while not self.closed:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            conn.settimeout(10)
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn):
        reader = conn.makefile("rb")
        try:
            while True:
                line = reader.readline(65536)
                if not line:
                    return
                if line in (b"\r\n", b"\n"):
                    continue
                parts = line.split()
                if len(parts) != 3:
                    return
                method, path = parts[0].decode("latin-1"), parts[1].decode("latin-1")
                headers = []
                while True:
                    h = reader.readline(65536)
                    if h in (b"\r\n", b"\n", b""):
                        break
                    name, _, value = h.decode("latin-1").partition(":")
                    headers.append((name.strip().lower(), value.strip()))
                names = dict(headers)
                body = b""
                if "chunked" in names.get("transfer-encoding", "").lower():
                    while True:
                        size = int(reader.readline(1024).split(b";")[0].strip() or b"0", 16)
                        if size == 0:
                            while reader.readline(1024) not in (b"\r\n", b"\n", b""):
                                pass
                            break
                        body += reader.read(size)
                        reader.readline(1024)
                elif "content-length" in names:
                    body = reader.read(int(names["content-length"]))
                with self.lock:
                    self.log.append((method, path, body))
                    seq = len(self.log)
                answer = b""
                for k in range(1 + self.extra_answers):
                    payload = json.dumps({"seq": seq, "path": path, "copy": k}).encode()
                    answer += b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(payload)
                    if method != "HEAD":
                        answer += payload
                conn.sendall(answer)
        except (OSError, ValueError):
            return
        finally:
            conn.close()

    def stop(self):
        self.closed = True
        self.sock.close()


def read_responses(sock, count, timeout=5.0, head_request=False):
    """Reads up to `count` HTTP/1.x responses (Content-Length framed) from `sock`; returns
    [(status, headers, body)], fewer if the server closed first. `head_request`: the first
    answers a HEAD (a length, no body)."""
    sock.settimeout(timeout)
    buf = b""
    out = []
    while len(out) < count:
        while b"\r\n\r\n" not in buf:
            try:
                chunk = sock.recv(65536)
            except (socket.timeout, ConnectionResetError):
                return out
            if not chunk:
                return out
            buf += chunk
        head, buf = buf.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        headers = {}
        for l in lines[1:]:
            k, _, v = l.partition(":")
            headers[k.strip().lower()] = v.strip()
        if status < 200:
            continue
        n = 0 if head_request and not out and status == 200 else int(headers.get("content-length", "0"))
        while len(buf) < n:
            try:
                chunk = sock.recv(65536)
            except (socket.timeout, ConnectionResetError):
                break
            if not chunk:
                break
            buf += chunk
        out.append((status, headers, buf[:n]))
        buf = buf[n:]
    return out
