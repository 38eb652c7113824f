"""HTTP/2 (h2c and TLS+ALPN) and HTTPS upstreams. A second gateway, serving its built-in echo,
is the upstream: its listener speaks h2c, TLS and HTTP/1.1, and the echo reports the HTTP
version the request arrived in."""
import json
import threading

import pytest

from conftest import request, self_signed, service


@pytest.fixture
def cert(tmp_path):
    return self_signed(tmp_path)


def echo_backend(gateway, tls=None):
    server = f"server: {{ tls: {{ certificate: {tls[0]}, key: {tls[1]} }} }}\n" if tls else ""
    return gateway(server + "services:\n  - { name: echo, upstream: builtin:echo, routes: [{ paths: [/] }] }\n")


def front(gateway, url, **upstream):
    extra = "".join(f", {k}: {json.dumps(v)}" for k, v in upstream.items())
    return gateway(f"services:\n  - {{ name: s, upstream: {{ targets: [{{ url: {url} }}]{extra} }}, routes: [{{ paths: [/] }}] }}\n")


def test_h2c_upstream_carries_requests_over_http2(gateway):
    back = echo_backend(gateway)
    gw = front(gateway, f"http://127.0.0.1:{back.port}", protocol="h2")
    status, _, body = request(gw.port, "POST", "/over-h2?x=1", body=b"hello")
    assert status == 200
    seen = json.loads(body)
    assert seen["http_version"] == "HTTP/2.0"
    assert seen["uri"] == "/over-h2?x=1" and seen["body"] == "hello"
    assert seen["headers"]["x-forwarded-proto"] == "http"


def test_h2c_upstream_multiplexes_concurrent_requests(gateway):
    back = echo_backend(gateway)
    gw = front(gateway, f"http://127.0.0.1:{back.port}", protocol="h2")
    results = []
    def one(i):
        status, _, body = request(gw.port, "GET", f"/n/{i}")
        results.append((status, json.loads(body)["uri"]))
    threads = [threading.Thread(target=one, args=(i,)) for i in range(40)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == sorted((200, f"/n/{i}") for i in range(40))


def test_streaming_passes_through_an_h2_upstream_hop(gateway, upstreams):
    up = upstreams()
    middle = gateway("services:\n" + service("s", up.url, ["/"]))
    gw = front(gateway, f"http://127.0.0.1:{middle.port}", protocol="h2")
    import http.client
    c = http.client.HTTPConnection("127.0.0.1", gw.port, timeout=10)
    c.request("GET", "/sse?n=2")
    r = c.getresponse()
    assert r.read1(65536) == b"data: event-0\n\n"  # while the upstream still holds the stream open
    up.release.set()
    assert r.read() == b"data: event-1\n\n"


@pytest.mark.parametrize("protocol,version", [("http1", "HTTP/1.1"), ("h2", "HTTP/2.0")])
def test_https_upstream_verified_against_a_configured_ca(gateway, cert, protocol, version):
    back = echo_backend(gateway, tls=cert)
    gw = front(gateway, f"https://127.0.0.1:{back.port}", protocol=protocol,
               tls={"ca_file": str(cert[0]), "server_name": "localhost"})
    status, _, body = request(gw.port, "GET", "/secure")
    assert status == 200, body
    assert json.loads(body)["http_version"] == version


def test_https_upstream_with_an_untrusted_certificate_is_502(gateway, cert):
    back = echo_backend(gateway, tls=cert)
    gw = front(gateway, f"https://127.0.0.1:{back.port}", tls={"server_name": "localhost"})
    status, _, body = request(gw.port, "GET", "/secure")
    assert status == 502
    gw2 = front(gateway, f"https://127.0.0.1:{back.port}", tls={"verify": False})
    assert request(gw2.port, "GET", "/lab")[0] == 200


def test_h2_upstream_down_is_502(gateway):
    from upstream import free_port
    gw = front(gateway, f"http://127.0.0.1:{free_port()}", protocol="h2")
    assert request(gw.port, "GET", "/x")[0] == 502


def test_an_h2_upstream_that_restarts_gets_a_new_connection(gateway):
    back = echo_backend(gateway)
    gw = front(gateway, f"http://127.0.0.1:{back.port}", protocol="h2")
    assert request(gw.port, "GET", "/before")[0] == 200
    back.stop()  # graceful: GOAWAY, then the idle connection closes
    assert back.proc.returncode == 0
    again = gateway("services:\n  - { name: echo, upstream: builtin:echo, routes: [{ paths: [/] }] }\n",
                    extra_args=("--listen", f"127.0.0.1:{back.port}"))
    assert again.port == back.port
    status, _, body = request(gw.port, "GET", "/after")
    assert status == 200 and json.loads(body)["http_version"] == "HTTP/2.0"
