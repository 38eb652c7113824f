"""The MCP gate with real peers: the official `mcp` SDK of both generations as agents, FastMCP
(mcp<2) and MCPServer (mcp 2.x) as upstreams over Streamable HTTP and stdio."""
import json
import re
import sqlite3

import pytest

from conftest import BIN, request, wait_for
from mcp_support import TOOLS as PER_SERVER, Upstream, agent, modern_call, stdio_command
from test_identity import keys

VALID = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")


@pytest.fixture
def mcp_upstreams(tmp_path):
    made = []

    def make(name, gen="2", transport="streamable-http", port=None):
        u = Upstream(tmp_path, name, gen=gen, transport=transport, port=port)
        made.append(u)
        return u

    yield make
    for u in made:
        u.stop()


def config(servers, extra="", access='  access:\n    - { allow: ["*"] }\n', store="sqlite:audit.db"):
    lines = []
    for s in servers:
        if isinstance(s, tuple):
            name, command, *more = s  # more: extra settings, "sessions: per_client"
            lines.append(f"    - {{ name: {name}, command: {command}{''.join(', ' + m for m in more)} }}")
        else:
            lines.append(f"    - {{ name: {s.name}, url: {s.url} }}")
    return f"store: {store}\nmcp:\n  servers:\n" + "\n".join(lines) + "\n" + access + extra


@pytest.mark.parametrize("gen", ["1", "2"])
def test_an_agent_of_each_sdk_generation_sees_and_calls_tools_of_every_upstream(gateway, mcp_upstreams, gen, tmp_path):
    gh = mcp_upstreams("gh", gen="2")     # MCPServer (mcp 2.x) over Streamable HTTP
    fs = mcp_upstreams("fs", gen="1")     # FastMCP (mcp<2) over Streamable HTTP
    gw = gateway(config([gh, fs, ("local", stdio_command("local"))], store=f"sqlite:{tmp_path}/a.db"))
    out = agent(f"{gw.url}/mcp", [
        {"op": "list_tools"},
        {"op": "call", "name": "gh_echo", "args": {"text": "hello"}},
        {"op": "call", "name": "fs_search_issues", "args": {"query": "bug"}},
        {"op": "call", "name": "local_whoami"},
        {"op": "list_prompts"},
        {"op": "get_prompt", "name": "fs_greet", "args": {"who": "ann"}},
        {"op": "list_resources"},
        {"op": "read", "uri": "memo://gh/readme"},
        {"op": "read", "uri": "memo://local/notes/42"},
        {"op": "call", "name": "gh_fail"},
        {"op": "ping"},
    ], gen=gen)
    assert out["era"] == ("modern" if gen == "2" else "2025-11-25")
    tools, echo, search, who, prompts, prompt, resources, readme, note, fail, pong = out["results"]
    for server in ("gh", "fs", "local"):
        assert {f"{server}_echo", f"{server}_search_issues", f"{server}_slow"} <= set(tools)
    assert all(VALID.match(t) for t in tools)
    assert echo == {"isError": False, "text": "hello", "structured": {"result": "hello"}}
    # structuredContent passes through untouched.
    assert search["structured"] == {"query": "bug", "count": 3, "server": "fs"}
    assert who["text"].startswith("local:")
    assert set(prompts) == {"gh_greet", "fs_greet", "local_greet"}
    assert prompt == ["Hello ann from fs"]
    assert {"memo://gh/readme", "memo://fs/readme", "memo://local/readme"} <= set(resources)
    assert readme == ["readme of gh"] and note == ["note 42 of local"]
    assert fail["isError"] is True and "fail" in fail["text"]
    assert pong == "pong"


def test_tool_definitions_pass_through_byte_for_byte_but_the_name(gateway, mcp_upstreams, tmp_path):
    gh = mcp_upstreams("gh", gen="2")
    gw = gateway(config([gh], store=f"sqlite:{tmp_path}/a.db"))
    direct = agent(gh.url, [{"op": "tools"}], gen="1")["results"][0]
    through = agent(f"{gw.url}/mcp", [{"op": "tools"}], gen="1")["results"][0]
    for name, definition in direct.items():
        seen = dict(through[f"gh_{name}"])
        assert seen.pop("name") == f"gh_{name}"
        definition = dict(definition)
        definition.pop("name")
        assert seen == definition  # inputSchema, outputSchema, description, annotations


def test_colliding_and_long_names_are_made_unique_valid_and_callable(gateway, mcp_upstreams, tmp_path):
    a = mcp_upstreams("a")
    ab = mcp_upstreams("a_b")
    long_name = "l" * 60
    long = mcp_upstreams(long_name)
    gw = gateway(config([a, ab, long], store=f"sqlite:{tmp_path}/a.db"))
    tools = agent(f"{gw.url}/mcp", [{"op": "list_tools"}], gen="1")["results"][0]
    assert all(VALID.match(t) for t in tools), [t for t in tools if not VALID.match(t)]
    assert len(tools) == len(set(tools)) == 3 * PER_SERVER  # nothing dropped
    # a.b_c and a_b.c no longer meet: a server's prefix never holds the separator (a_b is a-b).
    assert "a_b_c" in tools and "a-b_c" in tools and "a-b_b_c" in tools
    calls = agent(f"{gw.url}/mcp", [
        {"op": "call", "name": "a_b_c"},
        {"op": "call", "name": "a-b_c"},
        {"op": "call", "name": "a-b_b_c"},
    ], gen="1")["results"]
    assert calls[0]["text"] == "a.b_c"
    assert calls[1]["text"] == "a_b.c"
    assert calls[2]["text"] == "a_b.b_c"
    longs = [t for t in tools if t.startswith("lll")]
    assert len(longs) == PER_SERVER and all(len(t) <= 64 for t in longs)
    assert f"{long_name}_c" in longs and f"{long_name}_b_c" in longs  # 62 and 64 characters: kept as they are
    assert sum(1 for t in longs if len(t) == 64 and re.search(r"_[0-9a-f]{8}$", t)) == PER_SERVER - 2  # the others, hashed
    # Names are deterministic: a second gateway gives the same ones.
    gw2 = gateway(config([a, ab, long], store=f"sqlite:{tmp_path}/b.db"))
    assert agent(f"{gw2.url}/mcp", [{"op": "list_tools"}], gen="2")["results"][0] == tools


ACCESS = """  access:
    - { groups: [group-user], allow: ["gh.search_*", "gh.echo", "fs.read_*"], deny: ["fs.read_secret"] }
    - { groups: [group-admin], allow: ["*"] }
"""


def acl_config(gh, fs, db, extra=""):
    return f"""store: sqlite:{db}
consumers:
  - {{ name: alice, team: growth, groups: [group-user] }}
  - {{ name: bob, team: platform, groups: [group-admin] }}
  - {{ name: carol, team: growth, groups: [] }}
mcp:
  policies:
    - key_auth: {{}}
{extra}  servers:
    - {{ name: gh, url: {gh.url} }}
    - {{ name: fs, url: {fs.url} }}
  virtual_servers:
    - {{ name: dev, path: /mcp/dev, tools: ["gh.*"] }}
""" + ACCESS


@pytest.mark.parametrize("gen", ["1", "2"])
def test_access_hides_and_refuses_tools_the_same_way_as_unknown_ones(gateway, mcp_upstreams, tmp_path, gen):
    gh, fs = mcp_upstreams("gh"), mcp_upstreams("fs", gen="1")
    gw = gateway(acl_config(gh, fs, tmp_path / "acl.db"))
    alice = keys("create", "--consumer", "alice", config=gw.config)
    bob = keys("create", "--consumer", "bob", config=gw.config)
    carol = keys("create", "--consumer", "carol", config=gw.config)
    wait_for("keys", lambda: request(gw.port, "POST", "/mcp", body=b"{}", headers={"X-Api-Key": carol, "Content-Type": "application/json"})[0] != 401)
    seen = agent(f"{gw.url}/mcp", [
        {"op": "list_tools"},
        {"op": "call", "name": "gh_read_secret"},
        {"op": "call", "name": "fs_read_secret"},
        {"op": "call", "name": "gh_no_such_tool"},
        {"op": "call", "name": "gh_echo", "args": {"text": "ok"}},
    ], gen=gen, key=alice)["results"]
    assert seen[0] == ["gh_echo", "gh_search_issues"]
    not_allowed, denied, unknown = seen[1]["error"], seen[2]["error"], seen[3]["error"]
    assert not_allowed["code"] == denied["code"] == unknown["code"] == -32602
    assert (not_allowed["message"].replace("gh_read_secret", "X") == denied["message"].replace("fs_read_secret", "X")
            == unknown["message"].replace("gh_no_such_tool", "X"))
    assert seen[4]["text"] == "ok"
    everything = agent(f"{gw.url}/mcp", [{"op": "list_tools"}], gen=gen, key=bob)["results"][0]
    assert len(everything) == 2 * PER_SERVER
    # No rule applies to carol: deny by default.
    assert agent(f"{gw.url}/mcp", [{"op": "list_tools"}], gen=gen, key=carol)["results"][0] == []
    # The virtual server shows only gh's tools, still filtered by access.
    assert agent(f"{gw.url}/mcp/dev", [{"op": "list_tools"}], gen=gen, key=bob)["results"][0] == sorted(t for t in everything if t.startswith("gh_"))
    assert agent(f"{gw.url}/mcp/dev", [{"op": "call", "name": "fs_echo", "args": {"text": "x"}}], gen=gen, key=bob)["results"][0]["error"]["code"] == -32602
    # Resources and prompts follow the same rules.
    assert agent(f"{gw.url}/mcp", [{"op": "list_prompts"}], gen=gen, key=alice)["results"][0] == []


@pytest.mark.parametrize("refusal", ["http", "tool_error"])
def test_per_tool_rate_limits_refuse_past_the_limit(gateway, mcp_upstreams, tmp_path, refusal):
    gh, fs = mcp_upstreams("gh"), mcp_upstreams("fs", gen="1")
    extra = "    - rate_limit: { by: [consumer, tool], minute: 2 }\n  limit_refusal: " + refusal + "\n"
    gw = gateway(acl_config(gh, fs, tmp_path / "rl.db", extra=extra))
    bob = keys("create", "--consumer", "bob", config=gw.config)
    wait_for("keys", lambda: request(gw.port, "POST", "/mcp", body=b"{}", headers={"X-Api-Key": bob, "Content-Type": "application/json"})[0] != 401)
    calls = [{"op": "call", "name": "gh_echo", "args": {"text": str(i)}} for i in range(3)] + [{"op": "call", "name": "fs_echo", "args": {"text": "other"}}]
    # mcp<2 ends its session on any HTTP error status, so the http variant uses the 2.x agent.
    results = agent(f"{gw.url}/mcp", calls, gen="2" if refusal == "http" else "1", key=bob)["results"]
    assert [r.get("text") for r in results[:2]] == ["0", "1"]
    if refusal == "http":
        assert "error" in results[2], results[2]
    else:
        assert results[2]["isError"] is True and "Rate limit exceeded" in results[2]["text"]
    assert results[3]["text"] == "other"  # another tool has its own count


def test_every_tool_call_is_audited_with_a_hash_of_its_arguments_and_counted(gateway, mcp_upstreams, tmp_path):
    gh = mcp_upstreams("gh")
    db = tmp_path / "audit.db"
    gw = gateway(f"""store: sqlite:{db}
consumers:
  - {{ name: bob, team: platform, groups: [group-admin] }}
mcp:
  policies: [{{ key_auth: {{}} }}]
  servers: [{{ name: gh, url: {gh.url} }}]
  access: [{{ allow: ["*"] }}]
""")
    bob = keys("create", "--consumer", "bob", config=gw.config)
    wait_for("keys", lambda: request(gw.port, "POST", "/mcp", body=b"{}", headers={"X-Api-Key": bob, "Content-Type": "application/json"})[0] != 401)
    agent(f"{gw.url}/mcp", [
        {"op": "call", "name": "gh_echo", "args": {"text": "personal data"}},
        {"op": "call", "name": "gh_fail"},
        {"op": "call", "name": "gh_nothing"},
    ], gen="1", key=bob)

    def rows():
        try:
            return sqlite3.connect(db).execute(
                "SELECT consumer, team, session, upstream, tool, arguments_sha256, arguments, outcome, latency_ms FROM mcp_audit ORDER BY id").fetchall()
        except sqlite3.OperationalError:
            return []
    got = wait_for("audit rows", lambda: len(rows()) >= 2 and rows())
    assert [(r[0], r[1], r[3], r[4], r[7]) for r in got] == [("bob", "platform", "gh", "echo", "ok"), ("bob", "platform", "gh", "fail", "tool_error")]
    assert all(r[2] for r in got)  # the session
    assert len(got[0][5]) == 64 and got[0][6] is None and b"personal data" not in db.read_bytes()
    _, _, metrics = request(gw.admin_port, "GET", "/metrics")
    assert 'triplegate_mcp_tool_calls_total{server="gh",tool="echo",outcome="ok"} 1' in metrics.decode()


@pytest.mark.parametrize("gen", ["1", "2"])
def test_progress_is_relayed_with_the_agents_own_token(gateway, mcp_upstreams, tmp_path, gen):
    gh = mcp_upstreams("gh", gen="1")
    gw = gateway(config([gh, ("local", stdio_command("local"))], store=f"sqlite:{tmp_path}/a.db"))
    results = agent(f"{gw.url}/mcp", [
        {"op": "call", "name": "gh_slow", "args": {"seconds": 0.2}, "progress": True},
        {"op": "call", "name": "local_slow", "args": {"seconds": 0.2}, "progress": True},
    ], gen=gen)["results"]
    for r in results:
        assert r["text"] == "done" and r["progress"] == [float(i) for i in range(1, 11)]


def test_upstream_log_messages_reach_the_agent_from_the_level_it_asked_for(gateway, mcp_upstreams, tmp_path):
    fs, gh = mcp_upstreams("fs", gen="1"), mcp_upstreams("gh", gen="2")
    # The stdio server is each agent's own here: on a shared one, log messages outside a call's
    # own stream cannot be told apart and go to the gateway's log (test_shared_sessions.py).
    gw = gateway(config([fs, gh, ("local", stdio_command("local"), "sessions: per_client")], store=f"sqlite:{tmp_path}/a.db"))
    every, level, http1, http2, stdio = agent(f"{gw.url}/mcp", [
        {"op": "call", "name": "fs_chatty", "logs": True},  # no level set yet: every message
        {"op": "set_level", "level": "warning"},
        {"op": "call", "name": "fs_chatty", "logs": True},
        {"op": "call", "name": "gh_chatty", "logs": True},
        {"op": "call", "name": "local_chatty", "logs": True},
    ], gen="1")["results"]
    assert every["logs"] == [f"{lv}:{lv} from fs" for lv in ("debug", "info", "warning", "error")]
    assert level == "set"
    for r, server in ((http1, "fs"), (http2, "gh"), (stdio, "local")):
        assert r["text"] == "said" and r["logs"] == [f"warning:warning from {server}", f"error:error from {server}"]
    # A 2026-07-28 agent opts in per request, in `_meta`; without it no log message is sent.
    silent, info, errors, stdio = agent(f"{gw.url}/mcp", [
        {"op": "call", "name": "fs_chatty", "logs": True},
        {"op": "call", "name": "gh_chatty", "logs": True, "log_level": "info"},
        {"op": "call", "name": "fs_chatty", "logs": True, "log_level": "error"},
        {"op": "call", "name": "local_chatty", "logs": True, "log_level": "error"},
    ], gen="2")["results"]
    assert silent["text"] == "said" and silent["logs"] == []
    assert info["logs"] == ["info:info from gh", "warning:warning from gh", "error:error from gh"]
    assert errors["logs"] == ["error:error from fs"]
    # It has no session, so it shares the stdio server's one upstream session, where a log
    # line says nothing of the call it belongs to: the line goes to the gateway's log.
    assert stdio["text"] == "said" and stdio["logs"] == []
    wait_for("the line in the gateway's log", lambda: "error from local" in gw.logs())


def test_a_crashed_stdio_server_is_restarted_on_next_use(gateway, tmp_path):
    gw = gateway(config([("local", stdio_command("local"))], store=f"sqlite:{tmp_path}/a.db"))
    first, crash, second = agent(f"{gw.url}/mcp", [
        {"op": "call", "name": "local_whoami"},
        {"op": "call", "name": "local_crash"},
        {"op": "call", "name": "local_whoami"},
    ], gen="1")["results"]
    assert "error" in crash
    assert first["text"].startswith("local:") and second["text"].startswith("local:") and first["text"] != second["text"]
    assert "upstream exited" in gw.logs()


def test_a_restarted_upstream_session_is_initialized_again(gateway, mcp_upstreams, tmp_path):
    gh = mcp_upstreams("gh", gen="1")
    gw = gateway(config([gh], store=f"sqlite:{tmp_path}/a.db"))
    assert agent(f"{gw.url}/mcp", [{"op": "call", "name": "gh_echo", "args": {"text": "1"}}], gen="1")["results"][0]["text"] == "1"
    gh.stop()
    gh.start()  # same port, new process: the gate's upstream session id is now unknown (404)
    assert agent(f"{gw.url}/mcp", [{"op": "call", "name": "gh_echo", "args": {"text": "2"}}], gen="1")["results"][0]["text"] == "2"


def test_stdio_servers_stop_when_the_gateway_stops(gateway, tmp_path):
    gw = gateway(config([("local", stdio_command("local"))], store=f"sqlite:{tmp_path}/a.db"))
    who = agent(f"{gw.url}/mcp", [{"op": "call", "name": "local_whoami"}], gen="1")["results"][0]["text"]
    pid = int(who.split(":")[1])
    gw.stop()
    import os

    def gone():
        try:
            os.kill(pid, 0)
            return False
        except ProcessLookupError:
            return True
    wait_for("the stdio server to exit", gone, timeout=10)
    assert gw.proc.returncode == 0


@pytest.mark.parametrize("gen", ["1", "2"])
def test_the_2024_11_05_sse_transport_both_ways(gateway, mcp_upstreams, tmp_path, gen):
    old = mcp_upstreams("old", gen="1", transport="sse")    # FastMCP over HTTP+SSE
    new = mcp_upstreams("new", gen="2", transport="sse")    # MCPServer over HTTP+SSE
    gw = gateway(config([old, new], extra="", store=f"sqlite:{tmp_path}/a.db").replace(
        f"url: {old.url} }}", f"url: {old.url}, transport: sse }}").replace(f"url: {new.url} }}", f"url: {new.url}, transport: sse }}"))
    out = agent(f"{gw.url}/mcp/sse", [
        {"op": "list_tools"},
        {"op": "call", "name": "old_echo", "args": {"text": "a"}},
        {"op": "call", "name": "new_slow", "args": {"seconds": 0.2}, "progress": True},
        {"op": "read", "uri": "memo://new/notes/3"},
        {"op": "call", "name": "nope"},
    ], gen=gen, transport="sse")
    tools, echo, slow, note, unknown = out["results"]
    assert len(tools) == 2 * PER_SERVER and "old_echo" in tools and "new_slow" in tools
    assert echo["text"] == "a"
    assert slow["text"] == "done" and slow["progress"] == [float(i) for i in range(1, 11)]
    assert note == ["note 3 of new"]
    assert unknown["error"]["code"] == -32602
    # Streamable HTTP agents see the same catalog through the same gateway.
    assert agent(f"{gw.url}/mcp", [{"op": "list_tools"}], gen=gen)["results"][0] == tools


@pytest.mark.parametrize("gen,transport", [("1", "streamable-http"), ("2", "streamable-http"), ("1", "sse")])
def test_sampling_elicitation_and_roots_reach_the_agent_and_come_back(gateway, mcp_upstreams, tmp_path, gen, transport):
    fs = mcp_upstreams("fs", gen="1")
    ss = mcp_upstreams("ss", gen="1", transport="sse")
    # Each agent's own upstream sessions: a server request on stdio or HTTP+SSE says nothing of
    # the call it belongs to, so on a shared session the gateway answers it (test_shared_sessions.py).
    cfg = config([fs, ss, ("local", stdio_command("local"), "sessions: per_client")], store=f"sqlite:{tmp_path}/a.db").replace(
        f"url: {ss.url} }}", f"url: {ss.url}, transport: sse }}")
    gw = gateway(cfg)
    ops = [
        {"op": "call", "name": "fs_ask_model", "args": {"prompt": "hello"}},
        {"op": "call", "name": "fs_confirm", "args": {"question": "go?"}},
        {"op": "call", "name": "fs_roots"},
        {"op": "call", "name": "ss_ask_model", "args": {"prompt": "over sse"}},
        {"op": "call", "name": "local_ask_model", "args": {"prompt": "over stdio"}},
        {"op": "call", "name": "local_roots"},
    ]
    url = f"{gw.url}/mcp" + ("/sse" if transport == "sse" else "")
    results = agent(url, ops, gen=gen, transport=transport, mode="legacy" if gen == "2" else "auto")["results"]
    assert [r.get("text") for r in results] == [
        "fake-model: HELLO", "accept:True", "file:///work/project", "fake-model: OVER SSE", "fake-model: OVER STDIO", "file:///work/project"]


def test_a_2026_07_28_agent_has_no_back_channel_and_the_upstream_is_told_at_once(gateway, mcp_upstreams, tmp_path):
    fs = mcp_upstreams("fs", gen="1")
    gw = gateway(config([fs], store=f"sqlite:{tmp_path}/a.db"))
    result = agent(f"{gw.url}/mcp", [{"op": "call", "name": "fs_ask_model", "args": {"prompt": "x"}}], gen="2", timeout=30)["results"][0]
    # The sampling request is refused upstream without waiting: the tool fails quickly.
    assert result.get("isError") is True or "error" in result


@pytest.mark.parametrize("transport", ["streamable-http", "sse"])
def test_a_changed_tool_list_is_recomputed_and_passed_on_to_agents(gateway, mcp_upstreams, tmp_path, transport):
    fs = mcp_upstreams("fs", gen="1")
    gw = gateway(config([fs], store=f"sqlite:{tmp_path}/a.db"))
    url = f"{gw.url}/mcp" + ("/sse" if transport == "sse" else "")
    before, grown, changed, after, extra = agent(url, [
        {"op": "list_tools"},
        {"op": "call", "name": "fs_grow"},
        {"op": "wait_list_changed"},
        {"op": "list_tools"},
        {"op": "call", "name": "fs_extra"},
    ], gen="1", transport=transport)["results"]
    assert "fs_extra" not in before and grown["text"] == "grown" and changed == "changed"
    assert set(after) == set(before) | {"fs_extra"} and extra["text"] == "extra"


def test_the_agents_token_stays_here_and_each_upstream_gets_its_own_credentials(gateway, mcp_upstreams, tmp_path):
    fs = mcp_upstreams("fs", gen="1")
    other = mcp_upstreams("other", gen="1")
    db = tmp_path / "c.db"
    gw = gateway(f"""store: sqlite:{db}
consumers: [{{ name: bob, groups: [group-admin] }}]
mcp:
  policies: [{{ key_auth: {{}} }}]
  servers:
    - {{ name: fs, url: {fs.url}, headers: {{ Authorization: "Bearer upstream-secret" }} }}
    - {{ name: other, url: {other.url} }}
  access: [{{ allow: ["*"] }}]
""")
    bob = keys("create", "--consumer", "bob", config=gw.config)
    wait_for("keys", lambda: request(gw.port, "POST", "/mcp", body=b"{}", headers={"X-Api-Key": bob, "Content-Type": "application/json"})[0] != 401)
    seen = agent(f"{gw.url}/mcp", [{"op": "call", "name": "fs_auth_seen"}, {"op": "call", "name": "other_auth_seen"}], gen="1", key=bob)["results"]
    assert [r["text"] for r in seen] == ["Bearer upstream-secret", "none"]


def test_a_call_past_its_timeout_fails_and_the_upstream_is_told_to_stop(gateway, mcp_upstreams, tmp_path):
    import time
    fs = mcp_upstreams("fs", gen="1")
    gw = gateway(config([fs], store=f"sqlite:{tmp_path}/a.db").replace(f"url: {fs.url} }}", f"url: {fs.url}, timeout: 1s }}"))
    started = time.monotonic()
    result = agent(f"{gw.url}/mcp", [{"op": "call", "name": "fs_slow", "args": {"seconds": 20}}], gen="1")["results"][0]
    assert result["error"]["code"] == -32001 and "did not answer in time" in result["error"]["message"]
    assert time.monotonic() - started < 10
    wait_for("the upstream to cancel the call", lambda: "slow was cancelled on fs" in fs.log_path.read_text(), timeout=10)


def test_a_stdio_call_past_its_timeout_fails_and_the_server_keeps_serving(gateway, tmp_path):
    import time
    local = stdio_command("local").replace("\"", "'")
    gw = gateway(config([("local", local)], store=f"sqlite:{tmp_path}/a.db").replace(f"command: {local} }}", f"command: {local}, timeout: 1s }}"))
    started = time.monotonic()
    slow, quick = agent(f"{gw.url}/mcp", [{"op": "call", "name": "local_slow", "args": {"seconds": 20}},
                                          {"op": "call", "name": "local_echo", "args": {"text": "still here"}}], gen="1")["results"]
    assert slow["error"]["code"] == -32001 and "did not answer in time" in slow["error"]["message"]
    assert quick["text"] == "still here"
    assert time.monotonic() - started < 10
    wait_for("the stdio server to cancel the call", lambda: "slow was cancelled on local" in gw.logs(), timeout=10)


@pytest.mark.parametrize("gen", ["1", "2"])
def test_completions_go_to_the_server_that_owns_the_prompt_or_template(gateway, mcp_upstreams, tmp_path, gen):
    fs, gh = mcp_upstreams("fs", gen="1"), mcp_upstreams("gh", gen="2")
    access = '  access:\n    - { allow: ["fs.*", "gh.*"] }\n'
    gw = gateway(config([fs, gh], access=access, store=f"sqlite:{tmp_path}/a.db"))
    prompt, template, unknown = agent(f"{gw.url}/mcp", [
        {"op": "complete", "prompt": "fs_greet", "arg": "who", "value": "b"},
        {"op": "complete", "template": "memo://gh/notes/{id}", "arg": "id", "value": ""},
        {"op": "complete", "prompt": "nope_greet", "arg": "who", "value": ""},
    ], gen=gen)["results"]
    assert prompt == ["bob-fs"]  # fs saw its own name, `greet`
    assert template == ["1-gh", "2-gh"]
    assert unknown["error"]["code"] == -32602


def test_a_changed_tool_definition_is_flagged_and_quarantined_until_approved(gateway, mcp_upstreams, tmp_path):
    fs = mcp_upstreams("fs", gen="1")
    gw = gateway(config([fs], extra="  pinning: quarantine\n", store=f"sqlite:{tmp_path}/pins.db"))
    before, mutated, changed, after, refused = agent(f"{gw.url}/mcp", [
        {"op": "list_tools"},
        {"op": "call", "name": "fs_mutate"},
        {"op": "wait_list_changed"},
        {"op": "list_tools"},
        {"op": "call", "name": "fs_echo", "args": {"text": "x"}},
    ], gen="1")["results"]
    assert "fs_echo" in before and mutated["text"] == "mutated" and changed == "changed"
    assert set(after) == set(before) - {"fs_echo"}
    assert refused["error"]["code"] == -32602 and refused["error"]["message"] == "Unknown tool: fs_echo"
    pins = json.loads(request(gw.admin_port, "GET", "/admin/mcp/tools")[2])["tools"]
    echo = next(p for p in pins if p["tool"] == "echo")
    assert echo["status"] == "changed" and echo["pending_sha256"] != echo["approved_sha256"]
    assert sum(1 for p in pins if p["status"] == "approved") == PER_SERVER - 1
    assert 'triplegate_mcp_tool_definition_changes_total{server="fs",tool="echo"} 1' in request(gw.admin_port, "GET", "/metrics")[2].decode()
    assert request(gw.admin_port, "POST", "/admin/mcp/tools/approve?server=fs&tool=nope")[0] == 404
    assert request(gw.admin_port, "POST", "/admin/mcp/tools/approve?server=fs&tool=echo")[0] == 200
    again = agent(f"{gw.url}/mcp", [{"op": "list_tools"}, {"op": "call", "name": "fs_echo", "args": {"text": "y"}}], gen="1")["results"]
    assert "fs_echo" in again[0] and again[1]["text"] == "y"
    # Pins are kept in the store: a restarted gateway trusts the approved definition, nothing else.
    gw.stop()
    gw2 = gateway(config([fs], extra="  pinning: quarantine\n", store=f"sqlite:{tmp_path}/pins.db"))
    assert "fs_echo" in agent(f"{gw2.url}/mcp", [{"op": "list_tools"}], gen="1")["results"][0]
    assert all(p["status"] == "approved" for p in json.loads(request(gw2.admin_port, "GET", "/admin/mcp/tools")[2])["tools"])


def test_resource_updates_reach_the_subscribed_agent(gateway, mcp_upstreams, tmp_path):
    fs = mcp_upstreams("fs", gen="1")
    gw = gateway(config([fs], store=f"sqlite:{tmp_path}/a.db"))
    subscribed, touched, updated = agent(f"{gw.url}/mcp", [
        {"op": "subscribe", "uri": "memo://fs/readme"},
        {"op": "call", "name": "fs_touch", "args": {"uri": "memo://fs/readme"}},
        {"op": "wait_updated"},
    ], gen="1")["results"]
    assert subscribed == "subscribed" and touched["text"] == "touched" and updated == ["memo://fs/readme"]


def test_refused_calls_of_hidden_tools_are_audited_as_denied(gateway, mcp_upstreams, tmp_path):
    gh, fs = mcp_upstreams("gh"), mcp_upstreams("fs", gen="1")
    db = tmp_path / "deny.db"
    gw = gateway(acl_config(gh, fs, db))
    alice = keys("create", "--consumer", "alice", config=gw.config)
    wait_for("keys", lambda: request(gw.port, "POST", "/mcp", body=b"{}", headers={"X-Api-Key": alice, "Content-Type": "application/json"})[0] != 401)
    agent(f"{gw.url}/mcp", [{"op": "list_tools"}, {"op": "call", "name": "gh_read_secret"}], gen="1", key=alice)

    def rows():
        try:
            return sqlite3.connect(db).execute("SELECT consumer, upstream, tool, outcome FROM mcp_audit").fetchall()
        except sqlite3.OperationalError:
            return []
    assert wait_for("the audit row", rows) == [("alice", "gh", "read_secret", "denied")]


def test_an_agent_that_goes_away_cancels_its_upstream_call(gateway, mcp_upstreams, tmp_path):
    fs = mcp_upstreams("fs", gen="1")
    gw = gateway(config([fs], store=f"sqlite:{tmp_path}/a.db"))
    s = modern_call(gw.port, "fs_slow", {"seconds": 30})
    got = b""
    while b"notifications/progress" not in got:  # the call is under way upstream
        got += s.recv(4096)
    s.close()  # 2026-07-28: closing the stream cancels the request
    wait_for("the upstream to cancel the call", lambda: "slow was cancelled on fs" in fs.log_path.read_text(), timeout=10)


@pytest.mark.parametrize("mode", ["per_client", "shared"])
def test_each_agent_session_gets_its_own_upstream_session_unless_shared(gateway, mcp_upstreams, tmp_path, mode):
    fs = mcp_upstreams("fs", gen="1")
    gw = gateway(config([fs], store=f"sqlite:{tmp_path}/a.db").replace(f"url: {fs.url} }}", f"url: {fs.url}, sessions: {mode} }}"))
    first = agent(f"{gw.url}/mcp", [{"op": "call", "name": "fs_remember", "args": {"value": "mine"}},
                                    {"op": "call", "name": "fs_recall"}], gen="1")["results"]
    second = agent(f"{gw.url}/mcp", [{"op": "call", "name": "fs_recall"}], gen="1")["results"]
    assert first[1]["text"] == "mine"
    assert second[0]["text"] == ("nothing" if mode == "per_client" else "mine")
    if mode == "per_client":
        # Each agent's DELETE ended its upstream session too.
        wait_for("the upstream sessions to end", lambda: fs.log_path.read_text().count('"DELETE /mcp HTTP/1.1" 200') >= 2, timeout=10)
