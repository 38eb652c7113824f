"""An MCP server that turns against the agents behind the gateway: it adds tools after it was
listed, named to take a trusted tool's name, and it must not get them."""
import contextlib
import types
import json
import sqlite3
import subprocess
import sys
import time

import pytest

from conftest import request, wait_for
from mcp_support import HERE, agent, free_port, listening
from test_mcp_gate import mcp_upstreams  # noqa: F401 (a fixture)


def mcp_config(servers, store, extra=""):
    """An MCP-only config; `servers` have a name and a url (ours, or `(name, url)` pairs)."""
    servers = [s if hasattr(s, "url") else types.SimpleNamespace(name=s[0], url=s[1]) for s in servers]
    lines = "\n".join(f"    - {{ name: {s.name}, url: \"{s.url}\" }}" for s in servers)
    return f"store: {store}\nmcp:\n  servers:\n{lines}\n  access:\n    - {{ allow: [\"*\"] }}\n{extra}"


def test_a_server_listed_first_cannot_take_a_trusted_tools_name(gateway, mcp_upstreams, tmp_path):
    # `x_b` (hostile, first in config order) has a tool `c`; `x` has `b_c`. Before, both were
    # `x_b_c`, the first server kept the name, and an agent's call to `x_b_c` (arguments and
    # secrets included) went to the hostile server; a tool it added later could do the same.
    hostile, trusted = mcp_upstreams("x_b", gen="1"), mcp_upstreams("x", gen="1")
    db = tmp_path / "names.db"
    gw = gateway(mcp_config([hostile, trusted], f"sqlite:{db}"))
    before, added, changed, after, call = agent(f"{gw.url}/mcp", [
        {"op": "list_tools"},
        {"op": "call", "name": "x-b_add_tool", "args": {"tool": "c_2"}},
        {"op": "wait_list_changed"},
        {"op": "list_tools"},
        {"op": "call", "name": "x_b_c"},
    ], gen="1")["results"]
    assert added["text"] == "added" and changed == "changed"
    assert "x_b_c" in before and "x_b_c" in after
    assert call["text"] == "x.b_c"  # the trusted server's tool, still
    assert "x-b_c_2" in after and "x-b_c_2" not in before
    # Whatever the hostile server adds, no name of `x` moves.
    assert {t for t in before if t.startswith("x_")} == {t for t in after if t.startswith("x_")}
    # Names given are kept in the store with their (server, tool).
    gw.stop()
    rows = set(sqlite3.connect(db).execute("SELECT exposed, server, original FROM mcp_exposed_names WHERE kind = 'tools'"))
    assert ("x_b_c", "x", "b_c") in rows and ("x-b_c_2", "x_b", "c_2") in rows


def test_a_tool_added_after_the_first_listing_is_quarantined_until_approved(gateway, mcp_upstreams, tmp_path):
    fs = mcp_upstreams("fs", gen="1")
    store = f"sqlite:{tmp_path}/pins.db"
    gw = gateway(mcp_config([fs], store, extra="  pinning: quarantine\n"))
    before, added, changed, after, refused = agent(f"{gw.url}/mcp", [
        {"op": "list_tools"},
        {"op": "call", "name": "fs_add_tool", "args": {"tool": "exfiltrate"}},
        {"op": "wait_list_changed"},
        {"op": "list_tools"},
        {"op": "call", "name": "fs_exfiltrate"},
    ], gen="1")["results"]
    assert added["text"] == "added" and changed == "changed"
    assert set(after) == set(before)  # trusted on first sight only at the first listing
    assert refused["error"]["code"] == -32602
    pins = json.loads(request(gw.admin_port, "GET", "/admin/mcp/tools")[2])["tools"]
    new = next(p for p in pins if p["tool"] == "exfiltrate")
    assert new["status"] == "new" and new["approved_sha256"] is None and new["pending_sha256"]
    assert all(p["status"] == "approved" for p in pins if p["tool"] != "exfiltrate")
    assert 'triplegate_mcp_tool_definition_changes_total{server="fs",tool="exfiltrate"} 1' in request(gw.admin_port, "GET", "/metrics")[2].decode()
    assert request(gw.admin_port, "POST", "/admin/mcp/tools/approve?server=fs&tool=exfiltrate")[0] == 200
    listed, called = agent(f"{gw.url}/mcp", [{"op": "list_tools"}, {"op": "call", "name": "fs_exfiltrate"}], gen="1")["results"]
    assert "fs_exfiltrate" in listed and called["text"] == "fs.exfiltrate"


@contextlib.contextmanager
def hostile(mode):
    port = free_port()
    proc = subprocess.Popen([sys.executable, str(HERE / "hostile_server.py"), mode, str(port)])
    try:
        wait_for("the hostile upstream", lambda: listening(port))
        yield f"http://127.0.0.1:{port}/mcp"
    finally:
        proc.terminate()
        proc.wait()


class RawAgent:
    """An agent on one kept-alive connection, over plain http.client: what it reads is exactly
    what the gateway wrote, one response after another."""

    def __init__(self, port, version):
        import http.client
        self.c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        self.headers = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream"}
        r, _ = self.post({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "protocolVersion": version, "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}})
        assert r.status == 200
        self.headers.update({"Mcp-Session-Id": r.getheader("mcp-session-id"), "MCP-Protocol-Version": version})
        r, _ = self.post({"jsonrpc": "2.0", "method": "notifications/initialized"})
        assert r.status == 202

    def post(self, msg):
        self.c.request("POST", "/mcp", body=json.dumps(msg), headers=self.headers)
        r = self.c.getresponse()
        return r, r.read()  # must end: a never-ending answer times out here

    def call_without_reading(self, port, msg):
        """Sends `msg` on a connection of its own with a small receive buffer, and does not read:
        the returned socket is for `read_events` later."""
        import socket
        body = json.dumps(msg).encode()
        head = "".join(f"{k}: {v}\r\n" for k, v in self.headers.items())
        s = socket.create_connection(("127.0.0.1", port), timeout=30)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
        s.sendall(f"POST /mcp HTTP/1.1\r\nHost: x\r\n{head}Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode() + body)
        return s

    @staticmethod
    def read_events(s):
        """Reads a response to its end; its SSE events' messages."""
        got = bytearray()
        while chunk := s.recv(1 << 20):
            got += chunk
        s.close()
        return [json.loads(line[5:]) for line in got.decode().splitlines() if line.startswith("data:")]

    @staticmethod
    def messages(r, body):
        if r.getheader("content-type", "").startswith("text/event-stream"):
            return [json.loads(line[5:]) for line in body.decode().splitlines() if line.startswith("data:")]
        return [json.loads(body)]


def test_a_server_whose_list_is_not_utf8_is_left_out_and_the_others_stay(gateway, mcp_upstreams, tmp_path):
    good = mcp_upstreams("good", gen="1")
    with hostile("bad_utf8") as url:
        gw = gateway(mcp_config([("bad", url), good], f"sqlite:{tmp_path}/u.db"))
        listed, echoed = agent(f"{gw.url}/mcp", [
            {"op": "list_tools"}, {"op": "call", "name": "good_echo", "args": {"text": "still here"}}], gen="1")["results"]
        assert "good_echo" in listed and not any(t.startswith("bad_") for t in listed)
        assert echoed["text"] == "still here"
        metrics = request(gw.admin_port, "GET", "/metrics")[2].decode()
        assert 'triplegate_mcp_list_failures_total{server="bad",method="tools/list"}' in metrics
        assert "not valid JSON" in gw.logs()


def test_messages_after_the_answer_never_become_a_second_response(gateway, tmp_path):
    # The server answers tools/call on an SSE stream, then goes on writing on that stream (a log
    # message, progress, a request of its own) and holds it open. The agent's answer must end
    # exactly once, and its kept-alive connection must carry its next exchange, not those.
    with hostile("trailing") as url:
        gw = gateway(mcp_config([("h", url)], f"sqlite:{tmp_path}/t.db"))
        raw = RawAgent(gw.port, "2025-06-18")
        for n in range(2, 5):
            started = time.monotonic()
            # With a progress token, the answer is a stream (progress first, then the answer).
            r, body = raw.post({"jsonrpc": "2.0", "id": n, "method": "tools/call", "params": {
                "name": "h_probe", "arguments": {}, "_meta": {"progressToken": f"p{n}"}}})
            assert r.status == 200 and time.monotonic() - started < 5
            messages = RawAgent.messages(r, body)
            answers = [m for m in messages if m.get("id") == n]
            assert len(answers) == 1 and answers[0]["result"]["content"][0]["text"] == "hostile"
            assert messages[-1] is answers[0]  # nothing after the answer
            # The same connection serves the next exchange with its own answer.
            r, body = raw.post({"jsonrpc": "2.0", "id": 100 + n, "method": "ping"})
            assert r.status == 200 and RawAgent.messages(r, body)[-1]["id"] == 100 + n
        # The gateway closed each stream with its answer: nothing of it lingers upstream.
        stats = url.replace("/mcp", "/stats")
        port = int(stats.split(":")[2].split("/")[0])
        wait_for("the upstream's streams to close", lambda: json.loads(request(port, "GET", "/stats")[2])["open"] == 0, timeout=5)
        dropped = request(gw.admin_port, "GET", "/metrics")[2].decode()
        assert 'triplegate_mcp_upstream_messages_dropped_total{server="h",reason="after_answer"}' in dropped


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        return next(int(l.split()[1]) for l in f if l.startswith("VmRSS:"))


def test_a_stdio_server_cannot_take_the_gateways_memory_or_its_log(gateway, tmp_path):
    gw = gateway(f"""store: sqlite:{tmp_path}/s.db
mcp:
  servers: [{{ name: s, command: ["{sys.executable}", "{HERE / 'hostile_stdio.py'}"], start: eager }}]
  access: [{{ allow: ["*"] }}]
  timeout: 20s
""")
    url = f"{gw.url}/mcp"
    assert agent(url, [{"op": "call", "name": "s_ok"}], gen="1")["results"][0]["text"] == "ok"
    before = rss_kib(gw.proc.pid)
    # 40 MiB with no newline: refused past the line limit (32 MiB), the program stopped, the
    # call answered with an error, and the memory not kept.
    endless = agent(url, [{"op": "call", "name": "s_endless"}], gen="1", timeout=60)["results"][0]
    assert endless.get("isError") or "error" in endless, endless
    wait_for("the refusal in the log", lambda: "upstream output refused" in gw.logs())
    assert rss_kib(gw.proc.pid) - before < 150 * 1024, (before, rss_kib(gw.proc.pid))
    # The program is started again at the next call, and serves.
    assert agent(url, [{"op": "call", "name": "s_ok"}], gen="1")["results"][0]["text"] == "ok"
    # 200,000 stderr lines (22 MB): at most 20 a second reach the log, the rest are counted.
    size = len(gw.logs())
    assert agent(url, [{"op": "call", "name": "s_noisy"}], gen="1", timeout=60)["results"][0]["text"] == "noisy"
    assert agent(url, [{"op": "call", "name": "s_ok"}], gen="1")["results"][0]["text"] == "ok"
    grown = len(gw.logs()) - size
    assert grown < 200_000, grown  # a few hundred lines, not 22 MB
    assert gw.logs().count("noise line") < 500


@pytest.mark.parametrize("version,expected", [
    ("2025-06-18", ["notifications/resources/updated", "notifications/progress"]),
    ("2025-11-25", ["notifications/elicitation/complete", "notifications/resources/updated", "notifications/progress"]),
])
def test_only_notifications_the_agents_revision_defines_are_relayed(gateway, tmp_path, version, expected):
    with hostile("inventive") as url:
        gw = gateway(mcp_config([("h", url)], f"sqlite:{tmp_path}/n.db"))
        raw = RawAgent(gw.port, version)
        r, body = raw.post({"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {
            "name": "h_probe", "arguments": {}, "_meta": {"progressToken": "p"}}})
        messages = RawAgent.messages(r, body)
        assert [m.get("method") for m in messages if "method" in m] == expected
        assert messages[-1]["id"] == 2
        dropped = 'triplegate_mcp_upstream_messages_dropped_total{server="h",reason="undefined_notification"}'
        metrics = request(gw.admin_port, "GET", "/metrics")[2].decode()
        sent = 3  # notifications other than progress
        assert f"{dropped} {sent - (len(expected) - 1)}" in metrics


def test_a_server_with_a_huge_list_is_left_out_quickly_and_within_memory(gateway, mcp_upstreams, tmp_path):
    good = mcp_upstreams("good", gen="1")
    with hostile("huge_list") as url:
        gw = gateway(mcp_config([("huge", url), good], f"sqlite:{tmp_path}/h.db"))
        before = rss_kib(gw.proc.pid)
        started = time.monotonic()
        listed = agent(f"{gw.url}/mcp", [{"op": "list_tools"}], gen="1", timeout=60)["results"][0]
        assert time.monotonic() - started < 15
        assert "good_echo" in listed and not any(t.startswith("huge_") for t in listed)
        assert rss_kib(gw.proc.pid) - before < 150 * 1024, (before, rss_kib(gw.proc.pid))  # 300 MiB offered
        assert "more than 16777216 bytes" in gw.logs()


def held_back(sent):
    """Waits until what the flooding server wrote stops growing (unchanged for a second, at most
    30 s) and checks it stopped far short of the 1,500 events."""
    seen = [sent()]
    for _ in range(120):
        time.sleep(0.25)
        seen.append(sent())
        if len(seen) > 4 and seen[-1] == seen[-5]:
            break
    assert seen[-1] == seen[-5] and seen[-1] < 500, seen


def test_an_agent_that_does_not_read_holds_its_servers_stream_back(gateway, tmp_path):
    # 150 MB of progress for an agent that does not read: the gateway stops reading the call's
    # stream upstream (TCP holds the server back) instead of buffering it; once the agent reads,
    # everything comes, nothing dropped.
    with hostile("flood") as url:
        gw = gateway(mcp_config([("h", url)], f"sqlite:{tmp_path}/f.db"))
        raw = RawAgent(gw.port, "2025-06-18")
        assert RawAgent.messages(*raw.post({"jsonrpc": "2.0", "id": 2, "method": "ping"}))[-1]["result"] == {}
        before = rss_kib(gw.proc.pid)
        s = raw.call_without_reading(gw.port, {"jsonrpc": "2.0", "id": 3, "method": "tools/call", "params": {
            "name": "h_probe", "arguments": {}, "_meta": {"progressToken": "p"}}})
        port = int(url.split(":")[2].split("/")[0])
        sent = lambda: json.loads(request(port, "GET", "/stats")[2])["events"]  # noqa: E731
        wait_for("the flood to start", lambda: sent() > 0)
        # The server is held back: what it has written stops growing, far short of 1,500.
        held_back(sent)
        assert rss_kib(gw.proc.pid) - before < 64 * 1024
        events = RawAgent.read_events(s)
        assert events[-1]["id"] == 3 and events[-1].get("result", {}).get("content", [{}])[0].get("text") == "hostile", (len(events), events[-1])
        assert len(events) - 1 == 1500  # nothing dropped: held back, not thrown away
        metrics = request(gw.admin_port, "GET", "/metrics")[2].decode()
        assert "triplegate_mcp_agent_messages_dropped_total 0" in metrics
        assert RawAgent.messages(*raw.post({"jsonrpc": "2.0", "id": 4, "method": "ping"}))[-1]["result"] == {}


def test_an_agent_that_does_not_read_its_2024_11_05_stream_holds_the_server_back(gateway, tmp_path):
    import re
    import socket
    with hostile("flood") as url:
        gw = gateway(mcp_config([("h", url)], f"sqlite:{tmp_path}/l.db"))
        s = socket.create_connection(("127.0.0.1", gw.port), timeout=30)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
        s.sendall(b"GET /mcp/sse HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n\r\n")
        got = bytearray()
        while not (m := re.search(rb"data: (\S+session_id=\S+)\n\n", got)):
            got += s.recv(4096)
        endpoint = m.group(1).decode()
        before = rss_kib(gw.proc.pid)

        def post(msg):
            assert request(gw.port, "POST", endpoint, body=json.dumps(msg).encode(), headers={"Content-Type": "application/json"})[0] == 202
        post({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "protocolVersion": "2024-11-05", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}})
        post({"jsonrpc": "2.0", "method": "notifications/initialized"})
        post({"jsonrpc": "2.0", "id": 3, "method": "tools/call", "params": {"name": "h_probe", "arguments": {}, "_meta": {"progressToken": "p"}}})
        port = int(url.split(":")[2].split("/")[0])
        sent = lambda: json.loads(request(port, "GET", "/stats")[2])["events"]  # noqa: E731
        wait_for("the flood to start", lambda: sent() > 0)
        held_back(sent)
        assert rss_kib(gw.proc.pid) - before < 64 * 1024
        while b'"id":3' not in got[-4096:] and b'"id": 3' not in got[-4096:]:
            got += s.recv(1 << 20)
        s.close()
        events = [json.loads(line[5:]) for line in got.decode().splitlines() if line.startswith("data:") and line[5:].strip().startswith("{")]
        assert sum(1 for e in events if e.get("method") == "notifications/progress") == 1500
        assert events[-1]["id"] == 3 and events[-1]["result"]["content"][0]["text"] == "hostile"


def test_a_shared_stdio_server_flooding_an_agent_that_does_not_read_is_dropped_past_a_budget(gateway, tmp_path):
    # A shared stdio session cannot be held back for one agent (others use it): what does not
    # fit the agent's budget is dropped and counted; the answer still comes.
    gw = gateway(f"""store: sqlite:{tmp_path}/s.db
mcp:
  servers: [{{ name: s, command: ["{sys.executable}", "{HERE / 'hostile_stdio.py'}"], start: eager }}]
  access: [{{ allow: ["*"] }}]
""")
    raw = RawAgent(gw.port, "2025-06-18")
    assert RawAgent.messages(*raw.post({"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {"name": "s_ok", "arguments": {}}}))[-1]["id"] == 2
    before = rss_kib(gw.proc.pid)
    s = raw.call_without_reading(gw.port, {"jsonrpc": "2.0", "id": 3, "method": "tools/call", "params": {
        "name": "s_flood", "arguments": {}, "_meta": {"progressToken": "p"}}})
    wait_for("the program to send it all", lambda: "flood sent" in gw.logs(), timeout=60)
    assert rss_kib(gw.proc.pid) - before < 64 * 1024
    events = RawAgent.read_events(s)
    assert events[-1]["id"] == 3 and events[-1]["result"]["content"][0]["text"] == "flood"
    assert 0 < len(events) - 1 < 1500
    metrics = request(gw.admin_port, "GET", "/metrics")[2].decode()
    assert f"triplegate_mcp_agent_messages_dropped_total {1500 - (len(events) - 1)}" in metrics
    # The session and the server still serve.
    assert RawAgent.messages(*raw.post({"jsonrpc": "2.0", "id": 4, "method": "tools/call", "params": {"name": "s_ok", "arguments": {}}}))[-1]["id"] == 4


def test_a_server_cannot_pile_requests_on_an_agent(gateway, tmp_path):
    # 100 roots/list requests in one call: the agent gets at most 32 waiting at once, the rest
    # are refused upstream at once.
    with hostile("pile") as url:
        gw = gateway(mcp_config([("h", url)], f"sqlite:{tmp_path}/p.db"))
        raw = RawAgent(gw.port, "2025-06-18")
        r, body = raw.post({"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {"name": "h_probe", "arguments": {}}})
        messages = RawAgent.messages(r, body)
        asked = [m for m in messages if m.get("method") == "roots/list"]
        assert len(asked) == 32 and len({m["id"] for m in asked}) == 32
        assert messages[-1]["id"] == 2 and messages[-1]["result"]["content"][0]["text"] == "refused 68"
