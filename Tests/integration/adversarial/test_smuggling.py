"""Request smuggling, tried as a corpus: every method, over HTTP/1.0, HTTP/1.1 and h2, with a
body framed by length, by chunks, by nothing, and by both. The body is itself a request; an
upstream that ever parses it was smuggled to. No client may ever read another's answer."""
import json
import socket

import pytest

from peers import RawUpstream, read_responses

METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE"]
SMUGGLED = b"GET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n"


@pytest.fixture
def raw_upstream():
    made = []

    def make(**kw):
        u = RawUpstream(**kw)
        made.append(u)
        return u

    yield make
    for u in made:
        u.stop()


def config(url):
    return f"""services:
  - name: s
    upstream: {{ targets: [{{ url: {url} }}] }}
    routes: [{{ paths: [/] }}]
"""


def http1_request(method, version, framing):
    """The bytes of one request whose body, if any, is SMUGGLED."""
    head = f"{method} /victim HTTP/{version}\r\nHost: gw\r\n".encode()
    if framing == "length":
        return head + b"Content-Length: %d\r\n\r\n" % len(SMUGGLED) + SMUGGLED
    chunked = b"%x\r\n" % len(SMUGGLED) + SMUGGLED + b"\r\n0\r\n\r\n"
    if framing == "chunked":
        return head + b"Transfer-Encoding: chunked\r\n\r\n" + chunked
    if framing == "both":
        return head + b"Content-Length: %d\r\nTransfer-Encoding: chunked\r\n\r\n" % len(chunked) + chunked
    return head + b"\r\n"


def expected_refusal(method, version, framing):
    """The status the gateway must answer instead of forwarding, or None when it forwards."""
    if framing == "both":
        return 400
    if framing == "chunked" and version == "1.0":
        return 400
    if method == "TRACE" and framing in ("length", "chunked"):
        return 400
    return None


@pytest.mark.parametrize("version", ["1.0", "1.1"])
def test_http1_bodies_are_always_framed_upstream(gateway, raw_upstream, version):
    up = raw_upstream()
    gw = gateway(config(up.url))
    for method in METHODS:
        for framing in ("length", "chunked", "none", "both"):
            case = f"{method} HTTP/{version} {framing}"
            s = socket.create_connection(("127.0.0.1", gw.port), timeout=5)
            # The request, then a second one on the same connection: it would read a smuggled
            # request's answer if the upstream had parsed one.
            s.sendall(http1_request(method, version, framing))
            answers = read_responses(s, 1, head_request=method == "HEAD")
            refusal = expected_refusal(method, version, framing)
            assert answers, case
            status, headers, body = answers[0]
            if refusal:
                assert status == refusal, case
                assert headers.get("connection") == "close", case
                s.close()
                continue
            assert status == 200, case
            if method != "HEAD":
                assert json.loads(body)["path"] == "/victim", case
            if version == "1.1":
                s.sendall(b"GET /second HTTP/1.1\r\nHost: gw\r\n\r\n")
                second = read_responses(s, 1)
                assert second and json.loads(second[0][2])["path"] == "/second", case
            s.close()
    assert "/smuggled" not in up.paths()
    # Bodies reached the upstream whole, as this request's.
    bodies = [b for m, p, b in up.log if p == "/victim" and b]
    assert bodies and all(b == SMUGGLED for b in bodies)


def h2_exchange(port, method, framing):
    """One h2 request (prior knowledge) whose body, if any, is SMUGGLED; returns the status,
    or "reset" when the stream was reset."""
    import h2.config
    import h2.connection
    import h2.events
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    c = h2.connection.H2Connection(config=h2.config.H2Configuration(client_side=True, header_encoding="utf-8",
                                                                     validate_outbound_headers=False,
                                                                     normalize_outbound_headers=False))
    c.initiate_connection()
    headers = [(":method", method), (":path", "/victim"), (":scheme", "http"), (":authority", "gw")]
    if framing == "length":
        headers.append(("content-length", str(len(SMUGGLED))))
    if framing == "both":
        headers += [("content-length", str(len(SMUGGLED))), ("transfer-encoding", "chunked")]
    c.send_headers(1, headers, end_stream=framing == "none")
    if framing != "none":
        c.send_data(1, SMUGGLED, end_stream=True)
    s.sendall(c.data_to_send())
    status = None
    try:
        while True:
            data = s.recv(65536)
            if not data:
                return status or "reset"
            for e in c.receive_data(data):
                if isinstance(e, h2.events.ResponseReceived):
                    status = int(dict(e.headers)[":status"])
                if isinstance(e, h2.events.StreamEnded):
                    return status
                if isinstance(e, (h2.events.StreamReset, h2.events.ConnectionTerminated)):
                    return status or "reset"
            s.sendall(c.data_to_send())
    finally:
        s.close()


def test_h2_bodies_are_always_framed_upstream(gateway, raw_upstream):
    up = raw_upstream()
    gw = gateway(config(up.url))
    for method in METHODS:
        for framing in ("length", "chunked", "none", "both"):
            case = f"{method} h2 {framing}"
            status = h2_exchange(gw.port, method, framing)
            if framing == "both":
                assert status in ("reset", 400), case  # transfer-encoding is forbidden in h2
            elif method == "TRACE" and framing != "none":
                assert status == 400, case
            else:
                assert status == 200, case
    assert "/smuggled" not in up.paths()
    bodies = [b for m, p, b in up.log if p == "/victim" and b]
    assert bodies and all(b == SMUGGLED for b in bodies)


def test_an_upstream_that_answers_twice_never_answers_another_client(gateway, raw_upstream):
    """A hostile (or smuggled-to) upstream: every answer is followed by a second one in the same
    write. With one pooled connection and clients waiting for it, the pool hands the connection
    to the next client inside the end of the first answer; the second answer must never reach
    it. Each client gets its own answer, or an error, never another's."""
    import concurrent.futures
    up = raw_upstream(extra_answers=1)
    gw = gateway(f"""services:
  - name: s
    upstream: {{ targets: [{{ url: {up.url} }}], pool: {{ max_connections: 1 }} }}
    routes: [{{ paths: [/] }}]
""")

    def one(i):
        s = socket.create_connection(("127.0.0.1", gw.port), timeout=10)
        s.sendall(f"GET /client{i} HTTP/1.1\r\nHost: gw\r\n\r\n".encode())
        answers = read_responses(s, 1)
        s.close()
        assert answers, i
        status, _, body = answers[0]
        if status == 200:
            got = json.loads(body)
            assert got["path"] == f"/client{i}" and got["copy"] == 0, (i, got)
        return status

    with concurrent.futures.ThreadPoolExecutor(max_workers=20) as pool:
        statuses = list(pool.map(one, range(60)))
    assert statuses.count(200) >= 30  # retried on a fresh connection, most still succeed


def test_an_http10_request_with_transfer_encoding_is_refused_and_closed(gateway, raw_upstream):
    up = raw_upstream()
    gw = gateway(config(up.url))
    s = socket.create_connection(("127.0.0.1", gw.port), timeout=5)
    s.sendall(b"POST /x HTTP/1.0\r\nHost: gw\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n")
    answers = read_responses(s, 2)
    assert [a[0] for a in answers] == [400]
    assert s.recv(100) == b""  # closed
    s.close()
    assert up.log == []


@pytest.mark.parametrize("te", ["gzip, chunked", "chunked, gzip", "identity", "chunked, chunked", "xchunked"])
def test_unsupported_transfer_codings_are_refused(gateway, raw_upstream, te):
    up = raw_upstream()
    gw = gateway(config(up.url))
    s = socket.create_connection(("127.0.0.1", gw.port), timeout=5)
    s.sendall(f"POST /x HTTP/1.1\r\nHost: gw\r\nTransfer-Encoding: {te}\r\n\r\n0\r\n\r\n".encode() + SMUGGLED)
    answers = read_responses(s, 2)
    s.close()
    assert answers and answers[0][0] in (400, 501)
    assert "/smuggled" not in up.paths()
