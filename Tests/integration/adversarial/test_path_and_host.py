"""One view of a request: the path is normalized before matching and forwarded as matched, and
the host is read once. Encoded letters, dots, slashes, duplicate or missing Host lines and
absolute-form targets must never let a request skip the `/admin` route's key_auth."""
import json
import socket

import pytest

from peers import RawUpstream, read_responses


@pytest.fixture
def raw_upstream():
    u = RawUpstream()
    yield u
    u.stop()


def config(url, server=""):
    import tempfile
    return f"""{server}store: "sqlite:{tempfile.mkdtemp(prefix='tg-adv-')}/keys.db"
consumers: [{{ name: ops }}]
services:
  - name: admin
    upstream: {{ targets: [{{ url: {url} }}] }}
    policies: [key_auth: {{}}]
    routes: [{{ paths: [/admin] }}]
  - name: open
    upstream: {{ targets: [{{ url: {url} }}] }}
    routes: [{{ paths: [/] }}]
"""


def send(port, raw):
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    s.sendall(raw)
    answers = read_responses(s, 1)
    s.close()
    assert answers, raw
    return answers[0]


def get(port, target, host=b"Host: gw\r\n", version=b"1.1"):
    return send(port, b"GET " + target + b" HTTP/" + version + b"\r\n" + host + b"\r\n")


@pytest.mark.parametrize("target", [
    b"/admin/secret", b"/%61dmin/secret", b"/%61%64%6d%69%6e/secret", b"/%41dmin/../admin/secret",
    b"/public/../admin/secret", b"/public/%2e%2e/admin/secret", b"/public/%2E%2E/admin/secret",
    b"//admin//secret", b"/./admin/./secret", b"/x/.%2e/admin/secret",
])
def test_encoded_and_dotted_paths_reach_the_admin_route_and_its_auth(gateway, raw_upstream, target):
    gw = gateway(config(raw_upstream.url))
    status, _, _ = get(gw.port, target)
    assert status == 401, target
    assert raw_upstream.log == []


@pytest.mark.parametrize("target", [b"/admin%2fsecret", b"/admin%2Fsecret", b"/public/..%2fadmin/secret", b"/admin%5csecret",
                                    b"/x%zz", b"/x%4", b"/x%00y"])
def test_encoded_slashes_and_bad_escapes_are_refused_by_default(gateway, raw_upstream, target):
    gw = gateway(config(raw_upstream.url))
    status, _, body = get(gw.port, target)
    assert status == 400, target
    assert json.loads(body)["title"] == "Malformed or ambiguous request path"
    assert raw_upstream.log == []


def test_escaped_slashes_can_be_decoded_or_kept(gateway, raw_upstream):
    gw = gateway(config(raw_upstream.url, "server: { escaped_slashes: decode }\n"))
    assert get(gw.port, b"/admin%2Fsecret")[0] == 401
    gw2 = gateway(config(raw_upstream.url, "server: { escaped_slashes: keep }\n"))
    status, _, body = get(gw2.port, b"/admin%2fsecret")
    # Kept encoded, it is one segment: not the /admin route, and forwarded as matched.
    assert status == 200 and json.loads(body)["path"] == "/admin%2Fsecret"


def test_the_upstream_receives_the_path_that_was_matched(gateway, raw_upstream):
    gw = gateway(config(raw_upstream.url))
    status, _, body = get(gw.port, b"/%7euser/a/./b/../c%3f?q=%61")
    assert status == 200
    assert json.loads(body)["path"] == "/~user/a/c%3F?q=%61"  # the query is the caller's


@pytest.mark.parametrize("host", [b"Host: gw\r\nHost: evil\r\n", b"", b"Host: a b\r\n", b"Host: user@evil\r\n",
                                  b"Host: evil/admin\r\n", b"Host:\r\n"])
def test_a_request_needs_exactly_one_valid_host(gateway, raw_upstream, host):
    gw = gateway(config(raw_upstream.url))
    status, headers, _ = get(gw.port, b"/x", host=host)
    assert status == 400, host
    assert headers.get("connection") == "close"
    assert raw_upstream.log == []


def test_http10_may_omit_host(gateway, raw_upstream):
    gw = gateway(config(raw_upstream.url))
    assert get(gw.port, b"/x", host=b"", version=b"1.0")[0] == 200


def test_an_absolute_form_target_is_routed_by_its_path_and_authority(gateway, raw_upstream):
    gw = gateway(config(raw_upstream.url))
    # Before, the target was forwarded as the path `/http:/h/admin/secret`, past key_auth.
    assert get(gw.port, b"http://h/admin/secret")[0] == 401
    assert get(gw.port, b"HTTP://h/%61dmin")[0] == 401
    status, _, body = get(gw.port, b"http://h:8080/ok?x=1", host=b"Host: other\r\n")
    assert status == 200 and json.loads(body)["path"] == "/ok?x=1"
    assert get(gw.port, b"ftp://h/x")[0] == 400
    assert get(gw.port, b"http://user@h/x")[0] == 400
    assert get(gw.port, b"admin")[0] == 400


def test_h2_authority_and_host_that_disagree_are_refused(gateway, raw_upstream):
    import h2.config
    import h2.connection
    import h2.events
    gw = gateway(config(raw_upstream.url))

    def one(extra):
        s = socket.create_connection(("127.0.0.1", gw.port), timeout=5)
        c = h2.connection.H2Connection(config=h2.config.H2Configuration(client_side=True, header_encoding="utf-8", validate_outbound_headers=False))
        c.initiate_connection()
        c.send_headers(1, [(":method", "GET"), (":path", "/x"), (":scheme", "http"), (":authority", "gw")] + extra, end_stream=True)
        s.sendall(c.data_to_send())
        try:
            while True:
                data = s.recv(65536)
                if not data:
                    return "closed"
                for e in c.receive_data(data):
                    if isinstance(e, h2.events.ResponseReceived):
                        return int(dict(e.headers)[":status"])
                    if isinstance(e, h2.events.StreamReset):
                        return "reset"
                s.sendall(c.data_to_send())
        finally:
            s.close()

    assert one([]) == 200
    assert one([("host", "gw")]) == 200
    assert one([("host", "evil")]) == "reset"
    assert raw_upstream.paths() == ["/x", "/x"]


def test_a_valid_pipelined_request_is_answered_before_a_malformed_one_is_refused(gateway, raw_upstream):
    gw = gateway(config(raw_upstream.url))
    s = socket.create_connection(("127.0.0.1", gw.port), timeout=5)
    s.sendall(b"GET /first HTTP/1.1\r\nHost: gw\r\n\r\nGET /second HTTP/1.1\r\nHost: gw\r\n\r\nNOT HTTP AT ALL\r\n\r\n")
    answers = read_responses(s, 3)
    s.close()
    assert [a[0] for a in answers] == [200, 200, 400]
    assert [json.loads(a[2])["path"] for a in answers[:2]] == ["/first", "/second"]
    assert answers[2][1].get("connection") == "close"
