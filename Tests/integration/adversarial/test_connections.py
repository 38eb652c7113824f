"""Connections are bounded at every stage: a client that sends nothing, half a preface, half a
head or an idle h2 connection is cut off by a deadline; HTTP/2 floods end the connection, not
the gateway's memory; and past its connection cap the listener refuses new connections
instead of running out of descriptors."""
import resource
import socket
import struct
import subprocess
import time

import pytest

from conftest import BIN, request, wait_for

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"


def frame(kind, flags, stream, payload=b""):
    return struct.pack(">I", len(payload))[1:] + bytes([kind, flags]) + struct.pack(">I", stream) + payload


SETTINGS = frame(4, 0, 0)


def config(up, limits="client_header_timeout: 1s, client_body_timeout: 1s, keepalive_timeout: 2s"):
    return f"""server: {{ limits: {{ {limits} }} }}
services:
  - name: s
    upstream: {{ targets: [{{ url: {up.url} }}] }}
    routes: [{{ paths: [/] }}]
"""


def closed_within(s, seconds):
    """Whether the server closes `s` within `seconds` (reading and dropping what it sends)."""
    s.settimeout(0.2)
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        try:
            if not s.recv(65536):
                return True
        except socket.timeout:
            continue
        except ConnectionResetError:
            return True
    return False


@pytest.mark.parametrize("opening", [b"", b"PRI * HTTP/2.0\r\n", PREFACE + SETTINGS, b"GET / HTTP/1.1\r\nHost: x\r\n",
                                     b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nab"])
def test_silent_connections_are_cut_off_at_every_stage(gateway, upstreams, opening):
    gw = gateway(config(upstreams()))
    s = socket.create_connection(("127.0.0.1", gw.port))
    if opening:
        s.sendall(opening)
    assert closed_within(s, 8), opening
    s.close()
    assert request(gw.port, "GET", "/ok")[0] == 200


def test_a_tls_handshake_that_never_finishes_is_cut_off(gateway, upstreams, tmp_path):
    from conftest import self_signed
    cert, key = self_signed(tmp_path)
    up = upstreams()
    gw = gateway(f"""server: {{ tls: {{ certificate: {cert}, key: {key} }}, limits: {{ client_header_timeout: 1s }} }}
services:
  - name: s
    upstream: {{ targets: [{{ url: {up.url} }}] }}
    routes: [{{ paths: [/] }}]
""")
    for opening in [b"", b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03"]:  # nothing; half a ClientHello
        s = socket.create_connection(("127.0.0.1", gw.port))
        s.sendall(opening)
        assert closed_within(s, 8), opening
        s.close()


def rss_kib(pid):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


@pytest.mark.parametrize("attack", ["error-then-junk", "continuation-flood", "huge-header-block", "data-beyond-window"])
def test_http2_floods_end_the_connection_not_the_memory(gateway, upstreams, attack):
    up = upstreams()
    gw = gateway(config(up, "client_header_timeout: 5s, keepalive_timeout: 5s"))
    s = socket.create_connection(("127.0.0.1", gw.port))
    s.sendall(PREFACE + SETTINGS)
    before = rss_kib(gw.proc.pid)
    chunk = b"x" * 65536
    if attack == "error-then-junk":
        s.sendall(frame(0, 0, 0, b"abcd"))  # DATA on stream 0: a connection error
        flood = lambda: chunk
    elif attack == "continuation-flood":
        s.sendall(frame(1, 0, 1, b"\x82\x86\x84"))  # HEADERS without END_HEADERS
        flood = lambda: frame(9, 0, 1, b"\x40\x01a\x01b" * 2000)  # literal headers, never ending
    elif attack == "huge-header-block":
        flood = lambda: frame(1, 0, 1, b"\x40\x03big" + b"\x7f\xff\x7f" + b"y" * 16000)
    else:
        s.sendall(frame(1, 4, 1, b"\x83\x86\x84\x41\x02gw"))  # POST / on stream 1, END_HEADERS
        flood = lambda: frame(0, 0, 1, b"z" * 16384)
    sent, t0 = 0, time.monotonic()
    try:
        while sent < 64 * 1024 * 1024 and time.monotonic() - t0 < 10:
            s.sendall(flood())
            sent += 65536
    except OSError:
        pass
    assert closed_within(s, 10), attack
    s.close()
    # What the peer sent was not kept: far less than it sent, however much that was.
    assert rss_kib(gw.proc.pid) - before < 32 * 1024, (attack, sent)
    assert request(gw.port, "GET", "/ok")[0] == 200


def test_an_h2_stream_error_ends_only_its_stream(gateway, upstreams):
    """A malformed request (a header HTTP/2 forbids) resets its stream; the connection, and the
    client's other streams on it, go on."""
    import h2.config
    import h2.connection
    import h2.events
    gw = gateway(config(upstreams()))
    s = socket.create_connection(("127.0.0.1", gw.port), timeout=5)
    c = h2.connection.H2Connection(config=h2.config.H2Configuration(client_side=True, header_encoding="utf-8",
                                                                     validate_outbound_headers=False,
                                                                     normalize_outbound_headers=False))
    c.initiate_connection()
    base = [(":method", "GET"), (":scheme", "http"), (":authority", "gw")]
    bad = [("transfer-encoding", "chunked"), ("connection", "close"), ("X-Upper", "1"), (":bogus", "1")]
    for i, header in enumerate(bad):
        c.send_headers(4 * i + 1, base + [(":path", "/bad"), header], end_stream=True)
        c.send_headers(4 * i + 3, base + [(":path", "/good")], end_stream=True)
    s.sendall(c.data_to_send())
    outcome = {}
    while len(outcome) < 2 * len(bad):
        data = s.recv(65536)
        assert data, f"connection closed with {outcome}"
        for e in c.receive_data(data):
            if isinstance(e, h2.events.StreamReset):
                outcome[e.stream_id] = "reset"
            if isinstance(e, h2.events.ResponseReceived):
                outcome[e.stream_id] = int(dict(e.headers)[":status"])
        s.sendall(c.data_to_send())
    s.close()
    for i, header in enumerate(bad):
        assert outcome[4 * i + 1] in ("reset", 400), header
        assert outcome[4 * i + 3] == 200, header


def test_past_its_cap_the_listener_refuses_connections_and_stays_reachable(tmp_path, upstreams):
    """Under a 128-descriptor limit (so the default cap is 64), 200 silent connections neither
    exhaust the descriptors nor keep a real client out for longer than the header deadline."""
    up = upstreams()
    cfg = tmp_path / "c.yaml"
    cfg.write_text(config(up))
    ready = tmp_path / "ready.json"
    log = open(tmp_path / "gw.log", "wb")

    def low_limit():
        resource.setrlimit(resource.RLIMIT_NOFILE, (128, 128))

    proc = subprocess.Popen([BIN, "serve", "--config", str(cfg), "--listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0",
                             "--ready-file", str(ready)], stdout=log, stderr=subprocess.STDOUT, preexec_fn=low_limit)
    try:
        import json
        info = wait_for("ready", lambda: ready.exists() and ready.read_text() and json.loads(ready.read_text()), timeout=30)
        port = int(info["data"].rsplit(":", 1)[1])
        admin = int(info["admin"].rsplit(":", 1)[1])
        silent = [socket.create_connection(("127.0.0.1", port)) for _ in range(200)]
        # A real client gets through once the deadline has cut the silent ones off.
        wait_for("a real request to succeed", lambda: ok(port), timeout=15)
        assert proc.poll() is None
        _, _, metrics = request(admin, "GET", "/metrics")
        refused = [l for l in metrics.decode().splitlines() if l.startswith("triplegate_connections_refused_total")]
        assert refused and float(refused[0].split()[-1]) >= 100
        for s in silent:
            s.close()
    finally:
        proc.terminate()
        proc.wait(20)


def ok(port):
    try:
        return request(port, "GET", "/ok", timeout=2)[0] == 200
    except OSError:
        return False
