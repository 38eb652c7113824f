"""GET/POST through the gateway, header handling, path rewriting and the error format."""
import http.client
import json
import subprocess

from conftest import request, service


def test_get_and_post_with_bodies_reach_the_upstream(gateway, upstreams):
    up = upstreams()
    gw = gateway("services:\n" + service("s", up.url, ["/api"]))
    status, headers, body = request(gw.port, "GET", "/api/items?id=7")
    assert status == 200
    seen = json.loads(body)
    assert seen["method"] == "GET" and seen["path"] == "/api/items?id=7"
    payload = b'{"name":"triplegate"}' * 1000
    status, _, body = request(gw.port, "POST", "/api/items", body=payload, headers={"Content-Type": "application/json"})
    assert status == 200
    assert json.loads(body)["body_bytes"] == len(payload)


def test_forwarded_headers_are_set_and_hop_by_hop_ones_dropped(gateway, upstreams):
    up = upstreams()
    gw = gateway("services:\n" + service("s", up.url, ["/"]))
    status, headers, body = request(gw.port, "GET", "/h", headers={
        "X-Forwarded-For": "203.0.113.9", "Connection": "keep-alive, X-Secret-Hop",
        "X-Secret-Hop": "must not pass", "Keep-Alive": "timeout=5", "TE": "trailers",
        "Proxy-Authorization": "Basic x", "X-Custom": "kept",
    })
    assert status == 200
    seen = json.loads(body)["headers"]
    assert seen["x-forwarded-for"] == "203.0.113.9, 127.0.0.1"
    assert seen["x-forwarded-proto"] == "http"
    assert seen["x-forwarded-host"] == f"127.0.0.1:{gw.port}"
    assert seen["via"] == "1.1 triplegate"
    assert seen["host"] == f"127.0.0.1:{up.port}"
    assert seen["x-custom"] == "kept"
    for hop in ("x-secret-hop", "keep-alive", "te", "proxy-authorization"):
        assert hop not in seen, hop
    # A request id is generated, passed upstream and returned.
    assert seen["x-request-id"] and headers["x-request-id"] == seen["x-request-id"]
    assert headers["via"] == "1.1 triplegate"


def test_a_client_request_id_is_kept(gateway, upstreams):
    up = upstreams()
    gw = gateway("services:\n" + service("s", up.url, ["/"]))
    _, headers, body = request(gw.port, "GET", "/", headers={"X-Request-Id": "req-123"})
    assert json.loads(body)["headers"]["x-request-id"] == "req-123"
    assert headers["x-request-id"] == "req-123"


def test_strip_path_rewrite_prefix_and_preserve_host(gateway, upstreams):
    up = upstreams()
    gw = gateway("services:\n"
                 + service("strip", up.url, ["/api/v1/users"], strip_path=True, methods=["GET", "POST"])
                 + service("rewrite", up.url, ["/v1"], rewrite_prefix="/internal/v1")
                 + service("host", up.url, ["/keep-host"], preserve_host=True))
    assert json.loads(request(gw.port, "GET", "/api/v1/users/42?x=1")[2])["path"] == "/42?x=1"
    assert json.loads(request(gw.port, "GET", "/api/v1/users")[2])["path"] == "/"
    assert json.loads(request(gw.port, "GET", "/v1/things")[2])["path"] == "/internal/v1/things"
    seen = json.loads(request(gw.port, "GET", "/keep-host", headers={"Host": "api.example.com"})[2])
    assert seen["headers"]["host"] == "api.example.com"


def test_target_base_path_is_prefixed(gateway, upstreams):
    up = upstreams()
    gw = gateway("services:\n" + service("s", up.url + "/base", ["/x"], strip_path=True))
    assert json.loads(request(gw.port, "GET", "/x/y")[2])["path"] == "/base/y"


def test_no_route_is_404_and_wrong_method_is_405_as_problem_json(gateway, upstreams):
    up = upstreams()
    gw = gateway("services:\n" + service("s", up.url, ["/users"], methods=["GET", "POST"]))
    status, headers, body = request(gw.port, "GET", "/nothing")
    assert status == 404
    assert headers["content-type"] == "application/problem+json"
    problem = json.loads(body)
    assert problem["status"] == 404 and problem["request_id"] == headers["x-request-id"]
    status, headers, body = request(gw.port, "DELETE", "/users/1")
    assert status == 405
    assert headers["allow"] == "GET, POST"
    assert json.loads(body)["title"] == "Method not allowed"


def test_upstream_connections_are_kept_alive_and_reused(gateway, upstreams):
    up = upstreams()
    gw = gateway("server: { event_loops: 1 }\nservices:\n" + service("s", up.url, ["/"]))
    c = http.client.HTTPConnection("127.0.0.1", gw.port, timeout=5)
    for _ in range(20):
        c.request("GET", "/k")
        r = c.getresponse()
        assert r.status == 200
        r.read()
    c.close()
    assert up.requests == 20
    assert up.connections == 1


def test_routing_by_host_header_and_query(gateway, upstreams):
    a, b, c, d = upstreams("a"), upstreams("b"), upstreams("c"), upstreams("d")
    gw = gateway(f"""services:
  - name: wild
    upstream: {{ targets: [{{ url: {a.url} }}] }}
    routes: [{{ paths: [/], hosts: ["*.example.com"] }}]
  - name: tenant
    upstream: {{ targets: [{{ url: {b.url} }}] }}
    routes: [{{ paths: [/api], headers: {{ X-Tenant-Id: [tenant-1, tenant-2] }} }}]
  - name: beta
    upstream: {{ targets: [{{ url: {c.url} }}] }}
    routes: [{{ paths: [/api], query: {{ beta: ["1"] }} }}]
  - name: rest
    upstream: {{ targets: [{{ url: {d.url} }}] }}
    routes: [{{ paths: [/] }}]
""")
    def who(path, headers=None):
        return json.loads(request(gw.port, "GET", path, headers=headers)[2])["upstream"]
    assert who("/x", {"Host": "shop.example.com"}) == "a"
    assert who("/x", {"Host": "example.com"}) == "d"
    assert who("/api/x", {"X-Tenant-Id": "tenant-2"}) == "b"
    assert who("/api/x?beta=1") == "c"
    assert who("/apix") == "d"


def test_h2c_prior_knowledge_is_served(gateway, upstreams):
    up = upstreams()
    gw = gateway("services:\n" + service("s", up.url, ["/"]))
    out = subprocess.run(["curl", "-s", "--http2-prior-knowledge", "-o", "-", "-w", "\\n%{http_version} %{http_code}",
                          "-d", "hello-h2", f"{gw.url}/h2"], capture_output=True, text=True, timeout=20)
    body, _, tail = out.stdout.rpartition("\n")
    assert tail == "2 200"
    assert json.loads(body)["body_bytes"] == 8


def test_tls_listener_negotiates_h2_and_http11(gateway, upstreams, tmp_path):
    up = upstreams()
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert),
                    "-days", "1", "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost"],
                   check=True, capture_output=True)
    gw = gateway(f"server: {{ tls: {{ certificate: {cert}, key: {key} }} }}\nservices:\n" + service("s", up.url, ["/"]))
    for flag, version in (("--http2", "2"), ("--http1.1", "1.1")):
        out = subprocess.run(["curl", "-s", flag, "--cacert", str(cert), "-o", "-", "-w", "\\n%{http_version} %{http_code}",
                              f"https://localhost:{gw.port}/tls"], capture_output=True, text=True, timeout=20)
        body, _, tail = out.stdout.rpartition("\n")
        assert tail == f"{version} 200", out.stderr
        assert json.loads(body)["headers"]["x-forwarded-proto"] == "https"


def test_http10_client_gets_an_http10_response_it_can_delimit(gateway, upstreams):
    from conftest import raw
    up = upstreams()
    gw = gateway("services:\n" + service("s", up.url, ["/"]))
    # The SSE path answers chunked upstream; a 1.0 client must get it unchunked, ended by close.
    up.release.set()
    answer = raw(gw.port, b"GET /sse?n=2 HTTP/1.0\r\nHost: x\r\n\r\n")
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.0 200")
    assert b"transfer-encoding" not in head.lower()
    assert body == b"data: event-0\n\ndata: event-1\n\n"


def test_head_requests_get_no_body(gateway, upstreams):
    from conftest import raw
    up = upstreams()
    gw = gateway("services:\n" + service("s", up.url, ["/"]))
    answer = raw(gw.port, b"HEAD /x HTTP/1.1\r\nHost: x\r\n\r\nGET /y HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    first, _, rest = answer.partition(b"\r\n\r\n")
    assert first.startswith(b"HTTP/1.1 200")
    assert rest.startswith(b"HTTP/1.1 200")  # the next response follows at once: no body after HEAD
