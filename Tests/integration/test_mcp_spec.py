"""The MCP specification's MUSTs for a Streamable HTTP server, walked one by one over raw HTTP
against the gate (revisions 2025-03-26, 2025-06-18, 2025-11-25 and 2026-07-28)."""
import json

import pytest

from conftest import request, wait_for
from mcp_support import TOOLS, Upstream
from test_identity import keys

JSON = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream"}
MODERN = "2026-07-28"


@pytest.fixture
def gw(gateway, tmp_path):
    up = Upstream(tmp_path, "gh", gen="2")
    g = gateway(f"""store: sqlite:{tmp_path}/spec.db
consumers:
  - {{ name: alice, groups: [group-admin] }}
  - {{ name: bob, groups: [group-admin] }}
mcp:
  policies: [{{ key_auth: {{}} }}]
  allowed_origins: [https://app.example]
  session_idle: 2s
  servers: [{{ name: gh, url: {up.url} }}]
  access: [{{ allow: ["*"] }}]
""")
    g.alice = keys("create", "--consumer", "alice", config=g.config)
    g.bob = keys("create", "--consumer", "bob", config=g.config)
    wait_for("keys", lambda: post(g, {"jsonrpc": "2.0", "id": 1, "method": "ping"}, key=g.bob)[0] != 401)
    yield g
    up.stop()


def post(g, message, key=None, headers=None, raw=None):
    h = dict(JSON)
    h["Authorization"] = f"Bearer {key or g.alice}"
    h.update(headers or {})
    status, hs, body = request(g.port, "POST", "/mcp", body=raw if raw is not None else json.dumps(message).encode(), headers=h)
    return status, hs, json.loads(body) if body else None


def initialize(g, version="2025-11-25", key=None):
    status, h, body = post(g, {"jsonrpc": "2.0", "id": 1, "method": "initialize",
                               "params": {"protocolVersion": version, "capabilities": {}, "clientInfo": {"name": "raw", "version": "1"}}}, key=key)
    assert status == 200, body
    return h["mcp-session-id"], body


def in_session(g, sid, message, version="2025-11-25", key=None):
    return post(g, message, key=key, headers={"Mcp-Session-Id": sid, "MCP-Protocol-Version": version})


def modern(method, params=None, version=MODERN, **meta_overrides):
    meta = {"io.modelcontextprotocol/protocolVersion": version, "io.modelcontextprotocol/clientCapabilities": {}}
    meta.update(meta_overrides)
    p = dict(params or {})
    p["_meta"] = meta
    return {"jsonrpc": "2.0", "id": 7, "method": method, "params": p}


def modern_headers(method, version=MODERN, name=None):
    h = {"MCP-Protocol-Version": version, "Mcp-Method": method}
    if name:
        h["Mcp-Name"] = name
    return h


def test_methods_other_than_post_get_delete_get_405_with_allow(gw):
    status, h, body = request(gw.port, "PUT", "/mcp", body=b"{}", headers={**JSON, "Authorization": f"Bearer {gw.alice}"})
    assert status == 405 and h["allow"] == "GET, POST, DELETE" and body
    status, h, _ = request(gw.port, "GET", "/mcp", headers={"Accept": "text/event-stream", "Authorization": f"Bearer {gw.alice}"})
    assert status == 405 and "POST" in h["allow"]


def test_accept_content_type_and_origin_are_checked(gw):
    ping = {"jsonrpc": "2.0", "id": 1, "method": "ping"}
    assert post(gw, ping, headers={"Accept": "text/html"})[0] == 406
    assert post(gw, ping, headers={"Content-Type": "text/plain"})[0] == 415
    status, _, body = post(gw, ping, headers={"Origin": "https://evil.example"})
    assert status == 403 and body["error"]["code"] == -32600
    sid, _ = initialize(gw)
    assert in_session(gw, sid, ping)[0] == 200
    assert post(gw, ping, headers={"Origin": "https://app.example", "Mcp-Session-Id": sid})[0] == 200


def test_the_session_id_is_issued_on_initialize_only_and_required_after(gw):
    sid, body = initialize(gw)
    assert len(sid) == 32 and all(c in "0123456789abcdef" for c in sid)
    assert body["result"]["protocolVersion"] == "2025-11-25" and "tools" in body["result"]["capabilities"]
    assert body["result"]["serverInfo"]["name"] == "triplegate"
    status, h, body = in_session(gw, sid, {"jsonrpc": "2.0", "id": 2, "method": "tools/list"})
    assert status == 200 and "mcp-session-id" not in h and len(body["result"]["tools"]) == TOOLS
    status, _, body = post(gw, {"jsonrpc": "2.0", "id": 3, "method": "tools/list"})
    assert status == 400 and body["error"]["code"] == -32600
    assert in_session(gw, "0" * 32, {"jsonrpc": "2.0", "id": 4, "method": "tools/list"})[0] == 404
    # Another principal presenting the id is told it does not exist.
    assert in_session(gw, sid, {"jsonrpc": "2.0", "id": 5, "method": "tools/list"}, key=gw.bob)[0] == 404
    # Two initializations give two different ids.
    assert initialize(gw)[0] != sid


def test_an_unsupported_version_is_answered_with_the_latest_and_a_bad_header_is_400(gw):
    _, body = initialize(gw, version="1999-01-01")
    assert body["result"]["protocolVersion"] == "2025-11-25"
    sid, body = initialize(gw, version="2025-06-18")
    assert body["result"]["protocolVersion"] == "2025-06-18"
    status, _, body = in_session(gw, sid, {"jsonrpc": "2.0", "id": 2, "method": "ping"}, version="2099-12-31")
    assert status == 400 and body["error"]["code"] == -32600


def test_notifications_and_responses_get_202(gw):
    sid, _ = initialize(gw)
    status, _, body = in_session(gw, sid, {"jsonrpc": "2.0", "method": "notifications/initialized"})
    assert status == 202 and body is None
    assert in_session(gw, sid, {"jsonrpc": "2.0", "id": 99, "result": {}})[0] == 202


def test_set_level_takes_the_eight_syslog_levels_only(gw):
    sid, _ = initialize(gw)
    for level in ("debug", "emergency"):
        status, _, body = in_session(gw, sid, {"jsonrpc": "2.0", "id": 2, "method": "logging/setLevel", "params": {"level": level}})
        assert status == 200 and body == {"jsonrpc": "2.0", "id": 2, "result": {}}
    for params in ({"level": "loud"}, {"level": 3}, {}):
        status, _, body = in_session(gw, sid, {"jsonrpc": "2.0", "id": 3, "method": "logging/setLevel", "params": params})
        assert status == 200 and body["error"]["code"] == -32602 and "level must be one of debug, info, notice" in body["error"]["message"]


def test_delete_ends_the_session(gw):
    sid, _ = initialize(gw)
    h = {"Authorization": f"Bearer {gw.alice}", "Mcp-Session-Id": sid}
    assert request(gw.port, "DELETE", "/mcp", headers={"Authorization": f"Bearer {gw.bob}", "Mcp-Session-Id": sid})[0] == 404
    assert request(gw.port, "DELETE", "/mcp", headers=h)[0] == 200
    assert in_session(gw, sid, {"jsonrpc": "2.0", "id": 2, "method": "ping"})[0] == 404
    assert request(gw.port, "DELETE", "/mcp", headers={"Authorization": f"Bearer {gw.alice}"})[0] == 400


def test_idle_sessions_expire(gw):
    sid, _ = initialize(gw)
    # Asking with the id would keep it alive: the open-sessions gauge says when it is gone.
    wait_for("the session to expire", lambda: b"triplegate_mcp_sessions 0" in request(gw.admin_port, "GET", "/metrics")[2], timeout=10)
    assert in_session(gw, sid, {"jsonrpc": "2.0", "id": 2, "method": "ping"})[0] == 404


def test_batches_are_accepted_in_2025_03_26_only(gw):
    old, _ = initialize(gw, version="2025-03-26")
    batch = [{"jsonrpc": "2.0", "id": 1, "method": "ping"}, {"jsonrpc": "2.0", "method": "notifications/initialized"},
             {"jsonrpc": "2.0", "id": "two", "method": "tools/list"}]
    status, _, body = post(gw, None, raw=json.dumps(batch).encode(), headers={"Mcp-Session-Id": old, "MCP-Protocol-Version": "2025-03-26"})
    assert status == 200 and [r["id"] for r in body] == [1, "two"] and len(body[1]["result"]["tools"]) == TOOLS
    new, _ = initialize(gw, version="2025-06-18")
    status, _, body = post(gw, None, raw=json.dumps(batch).encode(), headers={"Mcp-Session-Id": new, "MCP-Protocol-Version": "2025-06-18"})
    assert status == 400 and body["error"]["code"] == -32600


def test_ids_keep_their_type_and_bad_json_is_a_parse_error(gw):
    sid, _ = initialize(gw)
    for rid in ["abc", 12345678901, -3, 0]:
        status, _, body = in_session(gw, sid, {"jsonrpc": "2.0", "id": rid, "method": "tools/call", "params": {"name": "gh_echo", "arguments": {"text": "x"}}})
        assert status == 200 and body["id"] == rid and body["result"]["content"][0]["text"] == "x"
    status, _, body = post(gw, None, raw=b'{"jsonrpc": "2.0", "id": 1, "method": ', headers={"Mcp-Session-Id": sid})
    assert status == 400 and body == {"jsonrpc": "2.0", "id": None, "error": {"code": -32700, "message": "Parse error"}}
    status, _, body = post(gw, {"jsonrpc": "1.0", "id": 5, "method": "ping"}, headers={"Mcp-Session-Id": sid})
    assert status == 400 and body["id"] == 5 and body["error"]["code"] == -32600
    status, _, body = in_session(gw, sid, {"jsonrpc": "2.0", "id": 6, "method": "no/such"})
    assert body["error"]["code"] == -32601
    # The gateway still serves.
    assert in_session(gw, sid, {"jsonrpc": "2.0", "id": 7, "method": "ping"})[2] == {"jsonrpc": "2.0", "id": 7, "result": {}}


def test_unknown_fields_and_meta_pass_through_both_ways(gw):
    sid, _ = initialize(gw)
    msg = {"jsonrpc": "2.0", "id": 3, "method": "tools/call",
           "params": {"name": "gh_search_issues", "arguments": {"query": "abc"}, "_meta": {"progressToken": "p1", "x-custom": [1, 2]}}, "x-extension": True}
    status, _, body = in_session(gw, sid, msg)
    assert status == 200 and body["result"]["structuredContent"] == {"query": "abc", "count": 3, "server": "gh"}


def test_requests_without_credentials_get_401(gw):
    status, h, body = request(gw.port, "POST", "/mcp", body=b'{"jsonrpc":"2.0","id":1,"method":"ping"}', headers=JSON)
    assert status == 401 and h["www-authenticate"].startswith("Bearer") and body and json.loads(body)["error"]["code"] == -32000


def test_2026_07_28_requests_are_stateless_and_checked_in_order(gw):
    status, h, body = post(gw, modern("server/discover"), headers=modern_headers("server/discover"))
    assert status == 200 and "mcp-session-id" not in h
    assert MODERN in body["result"]["supportedVersions"] and body["result"]["resultType"] == "complete"
    status, _, body = post(gw, modern("tools/list"), headers=modern_headers("tools/list"))
    assert status == 200 and body["result"]["resultType"] == "complete" and body["result"]["ttlMs"] == 0 and len(body["result"]["tools"]) == TOOLS
    call = modern("tools/call", {"name": "gh_echo", "arguments": {"text": "hi"}})
    status, _, body = post(gw, call, headers=modern_headers("tools/call", name="gh_echo"))
    assert status == 200 and body["result"]["content"][0]["text"] == "hi" and body["result"]["resultType"] == "complete"
    # Rung 1: the envelope.
    bad = {"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {"_meta": {"io.modelcontextprotocol/protocolVersion": MODERN}}}
    status, _, body = post(gw, bad, headers=modern_headers("tools/list"))
    assert status == 400 and body["error"]["code"] == -32602 and "clientCapabilities" in body["error"]["message"]
    # Rung 2: headers agree with the body.
    status, _, body = post(gw, modern("tools/list"), headers=modern_headers("prompts/list"))
    assert status == 400 and body["error"]["code"] == -32020
    status, _, body = post(gw, call, headers=modern_headers("tools/call", name="gh_other"))
    assert status == 400 and body["error"]["code"] == -32020
    # Rung 3: the version.
    status, _, body = post(gw, modern("tools/list", version="2099-01-01"), headers=modern_headers("tools/list", version="2099-01-01"))
    assert status == 400 and body["error"]["code"] == -32022
    assert body["error"]["data"] == {"supported": [MODERN], "requested": "2099-01-01"}
    # A notification is accepted and dropped.
    assert post(gw, {"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": 1}}, headers=modern_headers("notifications/cancelled"))[0] == 202
    # Unknown methods are 404 in this revision.
    status, _, body = post(gw, modern("no/such"), headers=modern_headers("no/such"))
    assert status == 404 and body["error"]["code"] == -32601


def test_oauth_resource_metadata_is_served_and_named_in_challenges(gateway, tmp_path):
    import time

    from authserver import AuthServer
    idp = AuthServer()
    up = Upstream(tmp_path, "gh", gen="2")
    try:
        exp = int(time.time()) + 600
        idp.tokens = {"tok-agent": {"active": True, "sub": "agent", "scope": "mcp:tools", "exp": exp},
                      "tok-other": {"active": True, "sub": "agent", "scope": "profile", "exp": exp}}
        g = gateway(f"""store: sqlite:{tmp_path}/o.db
consumers: [{{ name: agent, groups: [group-admin] }}]
auth:
  introspection: {{ url: {idp.url}/introspect, client_id: triplegate, client_secret: s3cret }}
mcp:
  policies: [{{ oauth2_introspection: {{ scopes: ["mcp:tools"], mandatory_scope: true }} }}]
  oauth: {{ authorization_servers: [{idp.url}], scopes_supported: ["mcp:tools"] }}
  servers: [{{ name: gh, url: {up.url} }}]
  virtual_servers: [{{ name: dev, path: /mcp/dev, tools: ["gh.*"] }}]
  access: [{{ allow: ["*"] }}]
""")
        ping = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "ping"}).encode()
        origin = f"http://127.0.0.1:{g.port}"
        for path in ("/mcp", "/mcp/dev"):
            status, h, body = request(g.port, "POST", path, body=ping, headers=JSON)
            assert status == 401 and json.loads(body)["error"]["code"] == -32000
            metadata = f"{origin}/.well-known/oauth-protected-resource{path}"
            assert f'resource_metadata="{metadata}"' in h["www-authenticate"] and h["www-authenticate"].startswith("Bearer")
            status, _, doc = request(g.port, "GET", metadata[len(origin):])
            assert status == 200 and json.loads(doc) == {
                "resource": origin + path, "authorization_servers": [idp.url], "bearer_methods_supported": ["header"],
                "resource_name": "Triplegate MCP", "scopes_supported": ["mcp:tools"]}
        assert json.loads(request(g.port, "GET", "/.well-known/oauth-protected-resource")[2])["resource"] == origin + "/mcp"
        status, h, _ = request(g.port, "POST", "/mcp", body=ping, headers={**JSON, "Authorization": "Bearer tok-other"})
        assert status == 403 and 'error="insufficient_scope"' in h["www-authenticate"] and "resource_metadata=" in h["www-authenticate"]
        status, _, body = request(g.port, "POST", "/mcp", body=json.dumps({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "x", "version": "1"}}}).encode(),
            headers={**JSON, "Authorization": "Bearer tok-agent"})
        assert status == 200 and json.loads(body)["result"]["protocolVersion"] == "2025-11-25"
    finally:
        up.stop()
        idp.stop()


def test_an_upstreams_id_null_error_reaches_the_agent_under_its_own_id(gateway, tmp_path):
    import subprocess
    import sys

    from mcp_support import HERE, free_port, listening
    port = free_port()
    broken = subprocess.Popen([sys.executable, str(HERE / "hostile_server.py"), "null_id", str(port)])
    try:
        wait_for("the broken upstream", lambda: listening(port))
        g = gateway(f"""store: sqlite:{tmp_path}/n.db
mcp:
  servers: [{{ name: broken, url: "http://127.0.0.1:{port}/mcp" }}]
  access: [{{ allow: ["*"] }}]
""")
        status, _, body = request(g.port, "POST", "/mcp", body=json.dumps(modern("tools/call", {"name": "broken_probe", "arguments": {}})).encode(),
                                  headers={**JSON, **modern_headers("tools/call", name="broken_probe")})
        body = json.loads(body)
        assert body["id"] == 7 and body["error"] == {"code": -32700, "message": "Parse error", "data": "from upstream"}
    finally:
        broken.terminate()
        broken.wait()


def test_a_broken_stream_is_resumed_with_last_event_id(gw):
    import socket
    sid, _ = initialize(gw)
    body = json.dumps({"jsonrpc": "2.0", "id": 41, "method": "tools/call", "params": {
        "name": "gh_slow", "arguments": {"seconds": 1.0}, "_meta": {"progressToken": "tok"}}}).encode()
    head = (f"POST /mcp HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nAccept: application/json, text/event-stream\r\n"
            f"Authorization: Bearer {gw.alice}\r\nMcp-Session-Id: {sid}\r\nMCP-Protocol-Version: 2025-11-25\r\n"
            f"Content-Length: {len(body)}\r\n\r\n").encode()
    s = socket.create_connection(("127.0.0.1", gw.port), timeout=10)
    s.sendall(head + body)
    got = b""
    while b"\n\n" not in got.split(b"\r\n\r\n", 1)[-1]:  # the first event
        got += s.recv(4096)
    s.close()  # the stream breaks after one progress event
    first_id = next(l.split(b": ", 1)[1].decode() for l in got.split(b"\r\n\r\n", 1)[1].split(b"\n") if l.startswith(b"id: "))
    stream, seq = first_id.split("-")
    status, h, replay = request(gw.port, "GET", "/mcp", headers={
        "Accept": "text/event-stream", "Authorization": f"Bearer {gw.alice}", "Mcp-Session-Id": sid, "Last-Event-ID": first_id}, timeout=15)
    assert status == 200 and h["content-type"] == "text/event-stream"
    events = [e for e in replay.decode().split("\n\n") if e.strip()]
    ids = [next(l[4:] for l in e.split("\n") if l.startswith("id: ")) for e in events]
    assert ids == [f"{stream}-{n}" for n in range(int(seq) + 1, int(seq) + 1 + len(ids))]  # nothing missed, in order
    last = json.loads(next(l[6:] for l in events[-1].split("\n") if l.startswith("data: ")))
    assert last["id"] == 41 and last["result"]["content"][0]["text"] == "done"
    progress = [json.loads(next(l[6:] for l in e.split("\n") if l.startswith("data: "))) for e in events[:-1]]
    assert all(p["params"]["progressToken"] == "tok" for p in progress) and len(progress) == 10 - int(seq)
    # An id the buffer cannot answer for is refused.
    assert request(gw.port, "GET", "/mcp", headers={"Accept": "text/event-stream", "Authorization": f"Bearer {gw.alice}",
                                                    "Mcp-Session-Id": sid, "Last-Event-ID": "999-1"})[0] == 404
