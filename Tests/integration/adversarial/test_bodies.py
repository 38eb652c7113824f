"""The AI and MCP gates read a body exactly as the provider or server will: duplicate keys at
any depth and escaped keys cannot make the gate judge one value while the upstream acts on
another; numbers from callers, providers and tokens are bounded and cannot stop the process."""
import json

import pytest

from conftest import request, wait_for
from mcp_support import Upstream as MCPUpstream
from test_ai_gate import add_keys, deployment, llm_config
from test_identity import keys
from test_mcp_spec import JSON, initialize, in_session, post


@pytest.fixture
def ai(gateway, fake, tmp_path):
    p = fake("p1")
    models = "\n".join([
        f"    - {{ name: smart, deployments: [{deployment('fake-openai', 'gpt-4o', p)}] }}",
        f"    - {{ name: claude, deployments: [{deployment('fake-anthropic', 'claude-sonnet-4-5', p)}] }}",
        f"    - {{ name: private, deployments: [{deployment('fake-openai', 'gpt-4o-mini', p)}], policies: [acl: {{ allow: [admins] }}] }}",
    ])
    # A budget applies: every call reserves its worst case (where a negative max_tokens trapped).
    g = gateway(llm_config(tmp_path, models, extra="  budgets:\n    - { team: growth, usd: 1000, period: day }"))
    g.fake = p
    add_keys(g)
    return g


def raw_post(g, path, body, key=None):
    return request(g.port, "POST", path, body=body, headers={"authorization": f"Bearer {key or g.app_key}",
                                                             "content-type": "application/json", "x-api-key": key or g.app_key,
                                                             "anthropic-version": "2023-06-01"})


MSG = b'"messages":[{"role":"user","content":"hi"}]'


def test_a_model_given_twice_or_escaped_is_one_model_or_none(ai):
    before = len(ai.fake.requests)
    # Refused: the provider (Python's json: last key wins) would have served `private`.
    for body in [b'{"model":"smart","model":"private",' + MSG + b'}',
                 b'{"model":"smart","mod\\u0065l":"private",' + MSG + b'}',
                 b'{"model":"smart",' + MSG + b',"messages":[]}',
                 b'{"model":"smart","messages":[{"role":"user","content":"a","content":"b"}]}',
                 b'{"model":"smart",' + MSG + b'} trailing',
                 b'{"model":"smart",' + MSG + b'}{}']:
        status, _, answer = raw_post(ai, "/v1/chat/completions", body)
        assert status == 400, body
        error = json.loads(answer)["error"]
        assert error["type"] == "invalid_request_error" and "JSON" in error["message"], body
    status, _, answer = raw_post(ai, "/v1/messages", b'{"model":"claude","model":"private","max_tokens":5,' + MSG + b'}')
    assert status == 400 and json.loads(answer)["type"] == "error"
    assert len(ai.fake.requests) == before
    # An escaped key is the key it spells: the ACL sees `private`, as the provider would.
    status, _, _ = raw_post(ai, "/v1/chat/completions", b'{"mod\\u0065l":"private",' + MSG + b'}')
    assert status in (403, 404)
    status, _, answer = raw_post(ai, "/v1/chat/completions", b'{"mod\\u0065l":"smart",' + MSG + b'}')
    assert status == 200 and json.loads(answer)["choices"]
    assert len(ai.fake.requests) == before + 1


@pytest.mark.parametrize("field", ["max_tokens", "max_completion_tokens", "n"])
@pytest.mark.parametrize("value", [b"-100000000000000", b"0", b"-1", b"9007199254740992", b"9223372036854775807",
                                   b"99999999999999999999999", b"1.5", b"1e400", b'"100"', b"true", b"[]"])
def test_extreme_output_sizes_are_refused_in_the_callers_dialect(ai, field, value):
    body = b'{"model":"smart","' + field.encode() + b'":' + value + b',' + MSG + b'}'
    status, _, answer = raw_post(ai, "/v1/chat/completions", body)
    assert status == 400, (field, value)
    assert field in json.loads(answer)["error"]["message"]
    # Still serving, every gate with it.
    assert ai.oai.chat.completions.create(model="smart", max_tokens=5, messages=[{"role": "user", "content": "x"}]).choices


@pytest.mark.parametrize("usage", [
    {"prompt_tokens": 9223372036854775807, "completion_tokens": 9223372036854775807},
    {"prompt_tokens": -9223372036854775808, "completion_tokens": -5, "prompt_tokens_details": {"cached_tokens": 9223372036854775807}},
    {"prompt_tokens": 1e300, "completion_tokens": "many"},
])
@pytest.mark.parametrize("stream", [False, True])
def test_hostile_usage_numbers_from_a_provider_never_stop_the_gateway(ai, usage, stream):
    """Absurd counts are bounded (2^40 tokens at most) and billed saturating: such a call may
    use the whole budget, and later calls are then refused in their dialect, but nothing traps."""
    import anthropic
    import openai
    ai.fake.then({"usage": usage})
    if stream:
        assert list(ai.oai.chat.completions.create(model="smart", messages=[{"role": "user", "content": "x"}], stream=True,
                                                   stream_options={"include_usage": True}))
    else:
        assert ai.oai.chat.completions.create(model="smart", messages=[{"role": "user", "content": "x"}]).choices
    ai.fake.then({"usage": {"input_tokens": usage["prompt_tokens"], "output_tokens": usage["completion_tokens"]}})
    try:
        if stream:
            with ai.claude.messages.stream(model="claude", max_tokens=5, messages=[{"role": "user", "content": "x"}]) as s:
                s.until_done()
        else:
            assert ai.claude.messages.create(model="claude", max_tokens=5, messages=[{"role": "user", "content": "x"}]).content
    except anthropic.RateLimitError as e:
        assert e.body["error"]["type"] == "rate_limit_error"  # the budget went to the absurd call
    try:
        ai.oai.chat.completions.create(model="smart", max_tokens=5, messages=[{"role": "user", "content": "x"}])
    except openai.RateLimitError as e:
        assert e.body["code"] == "insufficient_quota"
    assert ai.proc.poll() is None
    status, _, body = request(ai.admin_port, "GET", "/admin/config")
    assert status == 200


def test_a_tool_name_given_twice_is_an_invalid_request(gateway, tmp_path):
    up = MCPUpstream(tmp_path, "gh", gen="2")
    try:
        g = gateway(f"""store: sqlite:{tmp_path}/spec.db
consumers: [{{ name: alice }}]
mcp:
  policies: [{{ key_auth: {{}} }}]
  servers: [{{ name: gh, url: {up.url} }}]
  access: [{{ allow: ["gh.echo"] }}]
""")
        g.alice = keys("create", "--consumer", "alice", config=g.config)
        wait_for("keys", lambda: post(g, {"jsonrpc": "2.0", "id": 1, "method": "ping"})[0] != 401)
        sid, _ = initialize(g)
        h = {"Mcp-Session-Id": sid, "MCP-Protocol-Version": "2025-11-25"}
        for raw in [b'{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"gh_echo","name":"gh_add","arguments":{}}}',
                    b'{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"gh_echo","n\\u0061me":"gh_add","arguments":{}}}',
                    b'{"jsonrpc":"2.0","id":2,"id":3,"method":"tools/call","params":{"name":"gh_echo","arguments":{}}}']:
            status, _, body = post(g, None, raw=raw, headers=h)
            assert status == 400 and body["error"]["code"] == -32600 and "duplicate key" in body["error"]["message"], raw
        status, _, body = post(g, None, raw=b'{"jsonrpc":"2.0","id":2,"method":"ping"} x', headers=h)
        assert status == 400 and body["error"]["code"] == -32700
        ok = in_session(g, sid, {"jsonrpc": "2.0", "id": 4, "method": "tools/call", "params": {"name": "gh_echo", "arguments": {"text": "y"}}})
        assert ok[0] == 200 and ok[2]["result"]["content"][0]["text"] == "y"
    finally:
        up.stop()
