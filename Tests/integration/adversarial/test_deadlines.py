"""`timeout` is a deadline, not an idle timer: a server or a provider that sends a byte a second
cannot hold a call past it. A separate stall limit bounds the gap between bytes. A caller that
leaves takes its upstream call with it."""
import json
import socket
import sqlite3
import time

import pytest

from conftest import request, wait_for
from mcp_support import modern_call, stdio_command
from test_ai_gate import add_keys, deployment, llm_config
from test_hostile_mcp_servers import RawAgent, hostile, mcp_config
from test_mcp_gate import config as mcp_servers_config, mcp_upstreams  # noqa: F401 (a fixture)


def stats(url):
    """The hostile server's streams: (open, cut by the client)."""
    port = int(url.split(":")[2].split("/")[0])
    s = json.loads(request(port, "GET", "/stats")[2])
    return s["open"], s["cut"]


def call(raw, n, name, **meta):
    return raw.post({"jsonrpc": "2.0", "id": n, "method": "tools/call", "params": {"name": name, "arguments": {}, "_meta": meta}})


def test_progress_every_half_second_cannot_hold_an_mcp_call_past_its_timeout(gateway, tmp_path):
    with hostile("trickle") as url:
        gw = gateway(mcp_config([("h", url)], f"sqlite:{tmp_path}/d.db").replace(f'url: "{url}" }}', f'url: "{url}", timeout: 2s }}'))
        raw = RawAgent(gw.port, "2025-06-18")
        started = time.monotonic()
        r, body = call(raw, 2, "h_probe", progressToken="p")  # 20 s of progress upstream
        elapsed = time.monotonic() - started
        answer = RawAgent.messages(r, body)[-1]
        assert answer["error"]["code"] == -32001 and "did not answer in time" in answer["error"]["message"]
        assert 1.5 < elapsed < 6, elapsed
        # Its stream upstream was closed with it, not left to run.
        wait_for("the upstream stream to be cut", lambda: stats(url) == (0, 1), timeout=5)


@pytest.mark.parametrize("transport", ["streamable-http", "stdio"])
def test_a_quiet_mcp_call_fails_at_its_stall_limit(gateway, mcp_upstreams, tmp_path, transport):
    server = ("s", stdio_command("s"), "stall_timeout: 1s") if transport == "stdio" else mcp_upstreams("s", gen="1")
    cfg = mcp_servers_config([server], store=f"sqlite:{tmp_path}/d.db", extra="  timeout: 30s\n  stall_timeout: 1s\n")
    gw = gateway(cfg)
    raw = RawAgent(gw.port, "2025-06-18")
    assert RawAgent.messages(*call(raw, 2, "s_whoami"))[-1]["result"]["content"][0]["text"].startswith("s")
    started = time.monotonic()
    # 20 s of silence (no progress token, so no progress either).
    r, body = raw.post({"jsonrpc": "2.0", "id": 3, "method": "tools/call", "params": {"name": "s_slow", "arguments": {"seconds": 20}}})
    answer = RawAgent.messages(r, body)[-1]
    assert answer["error"]["code"] == -32001 and "stopped sending" in answer["error"]["message"]
    assert time.monotonic() - started < 6
    # With progress, the same call lives: each progress is a sign of life (every 0.2 s here).
    r, body = raw.post({"jsonrpc": "2.0", "id": 4, "method": "tools/call", "params": {
        "name": "s_slow", "arguments": {"seconds": 2}, "_meta": {"progressToken": "t"}}})
    assert RawAgent.messages(r, body)[-1]["result"]["content"][0]["text"] == "done"


def test_an_agent_that_leaves_closes_its_upstream_stream(gateway, tmp_path):
    with hostile("trickle") as url:
        gw = gateway(mcp_config([("h", url)], f"sqlite:{tmp_path}/d.db"))
        s = modern_call(gw.port, "h_probe")
        got = b""
        while b"notifications/progress" not in got:  # the call is under way upstream
            got += s.recv(4096)
        assert stats(url)[0] == 1
        s.close()
        # Not 20 s later, when the server would have finished: now.
        wait_for("the upstream stream to be cut", lambda: stats(url) == (0, 1), timeout=5)

        def outcomes():
            try:
                with sqlite3.connect(tmp_path / "d.db") as c:
                    return c.execute("SELECT outcome FROM mcp_audit").fetchall()
            except sqlite3.OperationalError:
                return []
        wait_for("the audit row", lambda: outcomes() == [("cancelled",)])
        assert "an upstream call failed" not in gw.logs()  # an agent leaving is no failure


def read_stream(port, path, key, payload, limit=30):
    """A raw streamed request: (seconds it took, the body)."""
    data = json.dumps(payload).encode()
    s = socket.create_connection(("127.0.0.1", port), timeout=limit)
    s.sendall((f"POST {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {key}\r\nContent-Type: application/json\r\n"
               f"Content-Length: {len(data)}\r\nConnection: close\r\n\r\n").encode() + data)
    started, got = time.monotonic(), b""
    while chunk := s.recv(65536):
        got += chunk
    s.close()
    return time.monotonic() - started, got


def test_a_trickling_llm_stream_is_cut_at_its_deadline_with_an_error_event(gateway, fake, tmp_path):
    p = fake("p")
    g = gateway(llm_config(tmp_path, f"    - {{ name: m, deployments: [{deployment('fake-openai', 'gpt-4o', p, timeout='3s')}] }}"))
    add_keys(g)
    p.script.append({"slow": 1})  # one event a second, about 25 of them
    words = " ".join(f"w{i}" for i in range(20))
    took, body = read_stream(g.port, "/v1/chat/completions", g.app_key,
                             {"model": "m", "stream": True, "messages": [{"role": "user", "content": words}]})
    assert 2.5 < took < 8, took
    text = body.decode()
    assert "did not finish its answer in time" in text and "[DONE]" not in text
    assert "Hello" in text  # what came before the deadline was passed on


def test_a_provider_that_goes_quiet_fails_at_the_stall_limit_and_is_retried(gateway, fake, tmp_path):
    p = fake("p")
    g = gateway(llm_config(tmp_path, f"    - {{ name: m, deployments: [{deployment('fake-openai', 'gpt-4o', p, stall_timeout='1s')}] }}"))
    add_keys(g)
    p.script.append({"stall": 5})  # nothing at all for 5 s; the retry is answered
    started = time.monotonic()
    r = g.oai.chat.completions.with_raw_response.create(model="m", messages=[{"role": "user", "content": "hi"}])
    assert r.status_code == 200 and r.headers["x-triplegate-attempts"] == "2"
    assert time.monotonic() - started < 4
