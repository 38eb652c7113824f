"""A shared upstream session serves many agents. What its server says outside any call's own
stream (a background job's log line, a roots/list) cannot be told apart: it used to go to
whichever agent had a call in flight, so Alice's private log line and a roots request reached
Bob, of another team. Now it reaches no agent: logs go to the gateway's log, requests are
answered by the gateway, each counted; an agent's own upstream session still talks to it."""
import pytest

from conftest import request, wait_for
from mcp_support import agent, stdio_command
from test_identity import keys
from test_mcp_gate import mcp_upstreams  # noqa: F401 (a fixture)


def two_teams(store, server):
    return f"""store: sqlite:{store}
consumers: [{{ name: alice, team: red }}, {{ name: bob, team: blue }}]
mcp:
  policies: [{{ key_auth: {{}} }}]
  servers:
    - {server}
  access: [{{ allow: ["*"] }}]
"""


def ready(gw, key):
    wait_for("keys", lambda: request(gw.port, "POST", "/mcp", body=b"{}", headers={"X-Api-Key": key, "Content-Type": "application/json"})[0] != 401)


@pytest.mark.parametrize("transport", ["stdio", "streamable-http"])
def test_what_a_shared_server_says_outside_a_call_reaches_no_other_agent(gateway, mcp_upstreams, tmp_path, transport):
    roots = 'roots: [{ uri: "file:///srv/shared", name: shared }]'
    if transport == "stdio":
        server = f"{{ name: s, command: {stdio_command('s')}, {roots} }}"
    else:
        up = mcp_upstreams("s", gen="1")
        server = f"{{ name: s, url: {up.url}, sessions: shared, {roots} }}"
    gw = gateway(two_teams(tmp_path / "t.db", server))
    alice, bob = (keys("create", "--consumer", c, config=gw.config) for c in ("alice", "bob"))
    ready(gw, alice)
    # Alice's call leaves work behind on the shared upstream session.
    planted = agent(f"{gw.url}/mcp", [{"op": "call", "name": "s_plant", "args": {"secret": "alice-secret"}}], gen="1", key=alice)["results"]
    assert planted[0]["text"] == "planted"
    # Bob's call is the only one in flight when that work logs and asks for roots.
    got = agent(f"{gw.url}/mcp", [{"op": "call", "name": "s_trigger", "logs": True}], gen="1", key=bob)["results"][0]
    assert got["logs"] == []  # not Alice's line
    assert got["text"] == "file:///srv/shared"  # the gateway's configured roots, not Bob's
    # The line is in the gateway's log, with its server; both are counted.
    wait_for("the line in the log", lambda: "private: alice-secret" in gw.logs())
    metrics = request(gw.admin_port, "GET", "/metrics")[2].decode()
    for reason in ("unattributed_log", "unattributed_request"):
        assert f'triplegate_mcp_upstream_messages_dropped_total{{server="s",reason="{reason}"}} 1' in metrics


def test_without_configured_roots_the_gateway_refuses_the_request(gateway, tmp_path):
    gw = gateway(two_teams(tmp_path / "t.db", f"{{ name: s, command: {stdio_command('s')} }}"))
    alice, bob = (keys("create", "--consumer", c, config=gw.config) for c in ("alice", "bob"))
    ready(gw, alice)
    agent(f"{gw.url}/mcp", [{"op": "call", "name": "s_plant", "args": {"secret": "x"}}], gen="1", key=alice)
    got = agent(f"{gw.url}/mcp", [{"op": "call", "name": "s_trigger", "logs": True}], gen="1", key=bob)["results"][0]
    assert got["logs"] == [] and got["text"] != "file:///work/project"  # Bob's agent was asked nothing
    assert got["text"].startswith("refused:") and "shared session" in got["text"]


def test_an_agents_own_upstream_session_still_talks_to_it_outside_calls(gateway, tmp_path):
    # Per client, what the server says is the agent's: the line and the request reach it.
    gw = gateway(two_teams(tmp_path / "t.db", f"{{ name: s, command: {stdio_command('s')}, sessions: per_client }}"))
    alice = keys("create", "--consumer", "alice", config=gw.config)
    ready(gw, alice)
    planted, got = agent(f"{gw.url}/mcp", [
        {"op": "call", "name": "s_plant", "args": {"secret": "mine"}},
        {"op": "call", "name": "s_trigger", "logs": True},
    ], gen="1", key=alice)["results"]
    assert planted["text"] == "planted"
    assert got["logs"] == ["info:private: mine"] and got["text"] == "file:///work/project"
