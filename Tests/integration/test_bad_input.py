"""Bad input gets a clear answer in the gateway's error format, closes only its own
connection, and never stops the gateway from serving others."""
import json
import socket
import time

from conftest import raw, request


def config(up, limits="", route_extra=""):
    return (f"server: {{ limits: {{ {limits} }} }}\n" if limits else "") + f"""services:
  - name: s
    upstream: {{ targets: [{{ url: {up.url} }}] }}
    routes: [{{ paths: [/] {route_extra} }}]
"""


def still_serving(gw):
    assert request(gw.port, "GET", "/ok")[0] == 200


def read_until_close(s):
    answer = b""
    while True:
        part = s.recv(4096)
        if not part:
            break
        answer += part
    s.close()
    return answer


def status_line(answer):
    return answer.split(b"\r\n", 1)[0].decode()


def test_oversized_headers_get_431(gateway, upstreams):
    up = upstreams()
    gw = gateway(config(up, "max_header_bytes: 4KiB"))
    answer = raw(gw.port, b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 8000 + b"\r\n\r\n")
    assert status_line(answer) == "HTTP/1.1 431 Request Header Fields Too Large"
    assert b"application/problem+json" in answer
    assert up.requests == 0
    still_serving(gw)


def test_headers_past_the_parser_limit_get_431(gateway, upstreams):
    up = upstreams()
    gw = gateway(config(up))
    answer = raw(gw.port, b"GET / HTTP/1.1\r\nHost: x\r\nX-Huge: " + b"a" * 200_000 + b"\r\n\r\n")
    assert status_line(answer) == "HTTP/1.1 431 Request Header Fields Too Large"
    still_serving(gw)


def test_too_many_headers_get_431(gateway, upstreams):
    up = upstreams()
    gw = gateway(config(up, "max_headers: 20"))
    headers = b"".join(b"X-H%d: v\r\n" % i for i in range(30))
    answer = raw(gw.port, b"GET / HTTP/1.1\r\nHost: x\r\n" + headers + b"\r\n")
    assert status_line(answer) == "HTTP/1.1 431 Request Header Fields Too Large"
    still_serving(gw)


def test_declared_oversized_body_gets_413_without_reaching_the_upstream(gateway, upstreams):
    up = upstreams()
    gw = gateway(config(up, route_extra=", max_body_bytes: 1KiB"))
    answer = raw(gw.port, b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\n" + b"z" * 5000)
    assert status_line(answer) == "HTTP/1.1 413 Payload Too Large"
    assert json.loads(answer.split(b"\r\n\r\n", 1)[1])["detail"] == "limit is 1024 bytes"
    assert up.requests == 0
    still_serving(gw)


def test_chunked_body_over_the_limit_gets_413(gateway, upstreams):
    up = upstreams()
    gw = gateway(config(up, route_extra=", max_body_bytes: 1KiB"))
    chunk = b"400\r\n" + b"y" * 1024 + b"\r\n"
    answer = raw(gw.port, b"POST /slow?ms=2000 HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" + chunk * 3 + b"0\r\n\r\n")
    assert status_line(answer) == "HTTP/1.1 413 Payload Too Large"
    still_serving(gw)


def test_malformed_http_gets_400_and_the_connection_closes(gateway, upstreams):
    up = upstreams()
    gw = gateway(config(up))
    for junk in (b"NOT HTTP AT ALL\r\n\r\n", b"GET / HTTP/1.1\r\nHost: x\r\nBad Header Line\r\n\r\n",
                 b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n", b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03"):
        answer = raw(gw.port, junk)
        assert status_line(answer) == "HTTP/1.1 400 Bad Request", junk
        assert b"connection: close" in answer
    still_serving(gw)


def test_a_client_sending_headers_too_slowly_is_timed_out(gateway, upstreams):
    up = upstreams()
    gw = gateway(config(up, "client_header_timeout: 500ms"))
    s = socket.create_connection(("127.0.0.1", gw.port), timeout=5)
    s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n")  # and never the blank line
    t0 = time.monotonic()
    answer = read_until_close(s)
    assert status_line(answer) == "HTTP/1.1 408 Request Timeout"
    assert time.monotonic() - t0 < 3
    still_serving(gw)


def test_a_client_sending_its_body_too_slowly_is_timed_out(gateway, upstreams):
    up = upstreams()
    gw = gateway(config(up, "client_body_timeout: 500ms"))
    s = socket.create_connection(("127.0.0.1", gw.port), timeout=5)
    s.sendall(b"POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nonly-some")
    t0 = time.monotonic()
    answer = read_until_close(s)
    assert status_line(answer) == "HTTP/1.1 408 Request Timeout"
    assert time.monotonic() - t0 < 3
    still_serving(gw)


def test_bad_connections_do_not_disturb_a_concurrent_good_one(gateway, upstreams):
    import http.client
    up = upstreams()
    gw = gateway(config(up))
    good = http.client.HTTPConnection("127.0.0.1", gw.port, timeout=5)
    good.request("GET", "/before")
    assert good.getresponse().read()
    for _ in range(20):
        raw(gw.port, b"\x00\x01garbage\r\n\r\n")
    good.request("GET", "/after")
    r = good.getresponse()
    assert r.status == 200 and json.loads(r.read())["path"] == "/after"
