"""The AI gate through the official OpenAI and Anthropic SDKs, against fake providers that speak
each provider's wire format: passthrough, translation both ways, streaming, tools, errors."""
import json
import subprocess

import anthropic
import openai
import pytest

from conftest import BIN, request, wait_for

PROVIDERS = {
    "fake-openai": "openai",
    "fake-azure": "azure-openai",
    "fake-anthropic": "anthropic",
    "fake-gemini": "gemini",
}
MODELS = {
    "fake-openai": ["gpt-4o", "gpt-4o-mini", "text-embedding-3-small"],
    "fake-azure": ["gpt-4o"],
    "fake-anthropic": ["claude-sonnet-4-5"],
    "fake-gemini": ["gemini-2.5-flash"],
}


def write_providers(tmp_path):
    d = tmp_path / "providers"
    d.mkdir(exist_ok=True)
    for name, style in PROVIDERS.items():
        auth = {"openai": '{ header: authorization, format: "Bearer {key}" }', "azure-openai": '{ header: api-key, format: "{key}" }',
                "anthropic": '{ header: x-api-key, format: "{key}" }', "gemini": '{ header: x-goog-api-key, format: "{key}" }'}[style]
        lines = [f"name: {name}", f"api_style: {style}", f"auth: {auth}", "models:"]
        for m in MODELS[name]:
            kind = "    kind: embedding\n" if "embedding" in m else ""
            lines.append(f"  {m}:\n{kind}    context_window: 128000\n    max_output_tokens: 4096\n    prices:\n"
                         f"      - {{ effective_from: 2025-01-01, source: test, input: 1.00, output: 2.00 }}")
        (d / f"{name}.yaml").write_text("\n".join(lines) + "\n")
    return d


def llm_config(tmp_path, models, extra="", policies="[key_auth: {}]", store=None):
    d = write_providers(tmp_path)
    return f"""store: {store.spec if store else f"sqlite:{tmp_path / 'keys.db'}"}
consumers:
  - {{ name: app, team: growth, groups: [users] }}
  - {{ name: admin, team: platform, groups: [admins] }}
llm:
  providers_dir: {d}
  policies: {policies}
  retries: {{ attempts: 2, base_delay: 1ms, max_delay: 2s }}
  cooldown: {{ failures: 3, for: 30s }}
  models:
{models}
{extra}
"""


def deployment(provider, model, fake, **kw):
    fields = {"provider": provider, "model": model, "base_url": fake.base + ("/v1" if provider == "fake-openai" else
                                                                           "/v1beta" if provider == "fake-gemini" else ""),
              "api_key": f"sk-{provider}"}
    if provider == "fake-azure":
        fields.update(deployment="gpt4o-eu", api_version="2024-10-21")
    fields.update(kw)
    return "{ " + ", ".join(f"{k}: {json.dumps(v)}" for k, v in fields.items()) + " }"


@pytest.fixture
def ai(gateway, fake, tmp_path):
    """A gateway with one model per provider style, all on one fake server."""
    p = fake("p1")
    models = "\n".join([
        f"    - {{ name: smart, deployments: [{deployment('fake-openai', 'gpt-4o', p)}] }}",
        f"    - {{ name: claude, deployments: [{deployment('fake-anthropic', 'claude-sonnet-4-5', p)}] }}",
        f"    - {{ name: gem, deployments: [{deployment('fake-gemini', 'gemini-2.5-flash', p)}] }}",
        f"    - {{ name: azure, deployments: [{deployment('fake-azure', 'gpt-4o', p)}] }}",
        f"    - {{ name: embed, deployments: [{deployment('fake-openai', 'text-embedding-3-small', p)}] }}",
        f"    - {{ name: private, deployments: [{deployment('fake-openai', 'gpt-4o-mini', p)}], policies: [acl: {{ allow: [admins] }}] }}",
    ])
    g = gateway(llm_config(tmp_path, models))
    g.fake = p
    add_keys(g)
    return g


def add_keys(g):
    """Keys for the two consumers (made by `triplegate keys`, as users make them) and SDK clients."""
    g.app_key = keys(g, "app")
    g.admin_key = keys(g, "admin")
    wait_for("keys to load", lambda: request(g.port, "GET", "/v1/models", headers={"authorization": f"Bearer {g.admin_key}"})[0] == 200)
    g.oai = openai.OpenAI(base_url=g.url + "/v1", api_key=g.app_key, max_retries=0)
    g.claude = anthropic.Anthropic(base_url=g.url, api_key=g.app_key, max_retries=0)


def keys(g, consumer):
    out = subprocess.run([BIN, "keys", "create", "--consumer", consumer, "--config", str(g.config)], capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


WEATHER_TOOL = {"type": "function", "function": {"name": "get_weather", "description": "Weather for a city",
                                                 "parameters": {"type": "object", "properties": {"city": {"type": "string"}},
                                                                "required": ["city"]}}}


@pytest.mark.parametrize("model,provider,served", [
    ("smart", "fake-openai", "gpt-4o"), ("claude", "fake-anthropic", "claude-sonnet-4-5"),
    ("gem", "fake-gemini", "gemini-2.5-flash"), ("azure", "fake-azure", "gpt-4o")])
def test_openai_sdk_chat_every_provider(ai, model, provider, served):
    r = ai.oai.chat.completions.with_raw_response.create(model=model, messages=[
        {"role": "system", "content": "be brief"}, {"role": "user", "content": "hi there"}])
    assert r.headers["x-triplegate-provider"] == provider
    assert r.headers["x-triplegate-model"] == served
    assert r.headers["x-triplegate-attempts"] == "1"
    c = r.parse()
    assert c.choices[0].message.content.startswith("Hello from p1 ")
    assert c.choices[0].message.content.endswith("hi there") or "hi there" in c.choices[0].message.content
    assert c.choices[0].finish_reason == "stop"
    assert c.usage.prompt_tokens > 0 and c.usage.completion_tokens > 0
    sent = ai.fake.requests[-1]
    # The provider key replaces the caller's; the caller's key never leaves the gateway.
    assert ai.app_key not in json.dumps(sent["headers"])
    if provider == "fake-azure":
        assert sent["path"] == "/openai/deployments/gpt4o-eu/chat/completions" and sent["query"] == "api-version=2024-10-21"
        assert sent["headers"]["api-key"] == "sk-fake-azure"
    if provider == "fake-anthropic":
        assert sent["json"]["system"] == "be brief" and sent["json"]["max_tokens"] > 0
        assert sent["headers"]["x-api-key"] == "sk-fake-anthropic" and sent["headers"]["anthropic-version"]
    if provider == "fake-gemini":
        assert sent["path"] == "/v1beta/models/gemini-2.5-flash:generateContent"
        assert sent["json"]["systemInstruction"]["parts"][0]["text"] == "be brief"


@pytest.mark.parametrize("model", ["smart", "claude", "gem"])
def test_openai_sdk_streaming_every_provider(ai, model):
    chunks = list(ai.oai.chat.completions.create(model=model, messages=[{"role": "user", "content": "stream please"}],
                                                 stream=True, stream_options={"include_usage": True}))
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text.startswith("Hello from p1") and text.endswith("stream please")
    finishes = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
    assert finishes == ["stop"]
    usage = [c.usage for c in chunks if c.usage]
    assert len(usage) == 1 and usage[0].completion_tokens > 0 and not chunks[-1].choices


def test_stream_without_usage_request_hides_the_usage_chunk(ai):
    chunks = list(ai.oai.chat.completions.create(model="smart", messages=[{"role": "user", "content": "x"}], stream=True))
    assert all(c.choices for c in chunks)
    # ...but the gateway asked the provider for it (the ledger needs it).
    assert ai.fake.requests[-1]["json"]["stream_options"] == {"include_usage": True}


@pytest.mark.parametrize("model", ["smart", "claude", "gem"])
def test_openai_sdk_tools(ai, model):
    c = ai.oai.chat.completions.create(model=model, messages=[{"role": "user", "content": "weather in Paris?"}],
                                       tools=[WEATHER_TOOL], tool_choice="auto")
    call = c.choices[0].message.tool_calls[0]
    assert call.function.name == "get_weather" and json.loads(call.function.arguments) == {"city": "Paris"}
    assert c.choices[0].finish_reason == "tool_calls"
    # The tool's answer goes back and becomes a plain reply.
    c2 = ai.oai.chat.completions.create(model=model, tools=[WEATHER_TOOL], messages=[
        {"role": "user", "content": "weather in Paris?"}, c.choices[0].message.model_dump(exclude_none=True),
        {"role": "tool", "tool_call_id": call.id, "content": "sunny"}, {"role": "user", "content": "thanks"}])
    assert c2.choices[0].message.content.endswith("thanks")
    if model == "claude":
        msgs = ai.fake.requests[-1]["json"]["messages"]
        assert msgs[1]["content"][0]["type"] == "tool_use" and msgs[2]["content"][0]["type"] == "tool_result"
        assert msgs[2]["content"][0]["tool_use_id"] == call.id


@pytest.mark.parametrize("model", ["smart", "claude"])
def test_openai_sdk_streamed_tool_calls(ai, model):
    chunks = list(ai.oai.chat.completions.create(model=model, messages=[{"role": "user", "content": "weather?"}],
                                                 tools=[WEATHER_TOOL], stream=True))
    calls = [tc for c in chunks if c.choices for tc in (c.choices[0].delta.tool_calls or [])]
    assert calls[0].function.name == "get_weather" and calls[0].id
    assert json.loads("".join(tc.function.arguments or "" for tc in calls)) == {"city": "Paris"}
    assert [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason] == ["tool_calls"]


def test_multimodal_parts_pass_through(ai):
    parts = [{"type": "text", "text": "what is this"}, {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}}]
    ai.oai.chat.completions.create(model="smart", messages=[{"role": "user", "content": parts}], response_format={"type": "json_object"})
    sent = ai.fake.requests[-1]["json"]
    assert sent["messages"][0]["content"] == parts and sent["response_format"] == {"type": "json_object"}
    assert sent["model"] == "gpt-4o"
    ai.oai.chat.completions.create(model="claude", messages=[{"role": "user", "content": parts}])
    blocks = ai.fake.requests[-1]["json"]["messages"][0]["content"]
    assert blocks[1] == {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="}}


def test_same_dialect_bodies_pass_through_byte_for_byte(ai):
    # Unknown fields, key order, spacing and number spellings survive; only `model` changes.
    body = b'{ "temperature" : 1.0, "model":"smart", "x_vendor": {"deep": [1e2, "\\u00e9"]},\n "messages":[{"role":"user","content":"hi"}] }'
    status, _, _ = request(ai.port, "POST", "/v1/chat/completions", body=body,
                           headers={"authorization": f"Bearer {ai.app_key}", "content-type": "application/json"})
    assert status == 200
    assert ai.fake.requests[-1]["raw"] == body.replace(b'"smart"', b'"gpt-4o"')
    anth = b'{"max_tokens": 10, "model": "claude", "messages": [{"role": "user", "content": "hi"}], "metadata": {"user_id": "u"}}'
    status, _, _ = request(ai.port, "POST", "/v1/messages", body=anth, headers={"x-api-key": ai.app_key, "content-type": "application/json"})
    assert status == 200
    assert ai.fake.requests[-1]["raw"] == anth.replace(b'"claude"', b'"claude-sonnet-4-5"')


def test_large_body_with_expect_continue_from_curl(ai):
    # curl sends `Expect: 100-continue` for bodies over 1 KB and waits up to a second for it.
    body = json.dumps({"model": "smart", "messages": [{"role": "user", "content": "x" * 5000}]})
    out = subprocess.run(["curl", "-s", "-w", "\\n%{time_total}", "-H", f"authorization: Bearer {ai.app_key}", "-H", "content-type: application/json",
                          "--data-binary", body, f"{ai.url}/v1/chat/completions"], capture_output=True, text=True, timeout=20)
    text, took = out.stdout.rsplit("\n", 1)
    assert json.loads(text)["choices"][0]["message"]["content"].endswith("x" * 100)
    assert float(took) < 0.9  # no wait for a 100 that never comes
    assert "expect" not in ai.fake.requests[-1]["headers"]


def test_embeddings_and_legacy_completions(ai):
    e = ai.oai.embeddings.create(model="embed", input=["a b", "c"])
    assert len(e.data) == 2 and e.data[1].embedding[0] == pytest.approx(0.2)
    c = ai.oai.completions.create(model="smart", prompt="say hi")
    assert c.choices[0].text.endswith("say hi")
    with pytest.raises(openai.BadRequestError):
        ai.oai.embeddings.create(model="claude", input="x")


def test_models_list_shows_what_the_consumer_may_use(ai):
    ids = [m.id for m in ai.oai.models.list()]
    assert ids == ["smart", "claude", "gem", "azure", "embed"]
    admin = openai.OpenAI(base_url=ai.url + "/v1", api_key=ai.admin_key)
    assert "private" in [m.id for m in admin.models.list()]
    assert ai.oai.models.retrieve("smart").id == "smart"
    with pytest.raises(openai.NotFoundError):
        ai.oai.models.retrieve("private")  # hidden from this consumer, as if absent
    assert admin.models.retrieve("private").id == "private"
    with pytest.raises(openai.PermissionDeniedError):
        ai.oai.chat.completions.create(model="private", messages=[{"role": "user", "content": "x"}])


def test_openai_errors_are_sdk_exceptions(ai):
    bad = openai.OpenAI(base_url=ai.url + "/v1", api_key="wrong", max_retries=0)
    with pytest.raises(openai.AuthenticationError) as e:
        bad.chat.completions.create(model="smart", messages=[{"role": "user", "content": "x"}])
    assert e.value.body["code"] == "invalid_api_key"
    with pytest.raises(openai.NotFoundError) as e:
        ai.oai.chat.completions.create(model="nope", messages=[{"role": "user", "content": "x"}])
    assert e.value.body["code"] == "model_not_found"
    with pytest.raises(openai.BadRequestError):
        ai.oai.chat.completions.create(model="smart", messages=[])
    # Not JSON at all: a clear error in OpenAI's format, and the gateway keeps serving.
    status, headers, body = request(ai.port, "POST", "/v1/chat/completions", body=b"{not json",
                                    headers={"authorization": f"Bearer {ai.app_key}", "content-type": "application/json"})
    assert status == 400 and json.loads(body)["error"]["type"] == "invalid_request_error"
    status, _, body = request(ai.port, "POST", "/v1/nothing-here", body=b"{}", headers={"authorization": f"Bearer {ai.app_key}"})
    assert status == 404 and json.loads(body)["error"]["code"] == "unknown_url"
    assert ai.oai.chat.completions.create(model="smart", messages=[{"role": "user", "content": "still"}]).choices


def test_provider_error_surfaces_in_the_callers_dialect(ai):
    ai.fake.then({"status": 400, "message": "Invalid 'messages[0].role'", "code": "invalid_value"})
    with pytest.raises(openai.BadRequestError) as e:
        ai.oai.chat.completions.create(model="smart", messages=[{"role": "user", "content": "x"}])
    assert "Invalid 'messages[0].role'" in e.value.message
    ai.fake.then({"status": 400, "message": "messages: bad"})
    with pytest.raises(anthropic.BadRequestError) as e:
        ai.claude.messages.create(model="smart", max_tokens=50, messages=[{"role": "user", "content": "x"}])
    assert e.value.body["type"] == "error" and e.value.body["error"]["type"] == "invalid_request_error"


@pytest.mark.parametrize("model", ["claude", "smart", "gem"])
def test_anthropic_sdk_messages(ai, model):
    m = ai.claude.messages.create(model=model, max_tokens=100, system="be kind",
                                  messages=[{"role": "user", "content": "hello claude"}])
    assert m.type == "message" and m.role == "assistant"
    assert m.content[0].type == "text" and "hello claude" in m.content[0].text
    assert m.stop_reason == "end_turn" and m.usage.output_tokens > 0
    if model == "claude":
        assert ai.fake.requests[-1]["json"]["model"] == "claude-sonnet-4-5"
    if model == "smart":
        assert ai.fake.requests[-1]["json"]["messages"][0] == {"role": "system", "content": "be kind"}


@pytest.mark.parametrize("model", ["claude", "smart", "gem"])
def test_anthropic_sdk_streaming(ai, model):
    with ai.claude.messages.stream(model=model, max_tokens=100, messages=[{"role": "user", "content": "stream it"}]) as s:
        text = "".join(s.text_stream)
        final = s.get_final_message()
    assert text.startswith("Hello from p1") and text.endswith("stream it")
    assert final.stop_reason == "end_turn" and final.usage.output_tokens > 0


@pytest.mark.parametrize("model", ["claude", "smart"])
def test_anthropic_sdk_tools(ai, model):
    tool = {"name": "get_weather", "description": "w", "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}}}
    m = ai.claude.messages.create(model=model, max_tokens=100, tools=[tool], messages=[{"role": "user", "content": "weather?"}])
    use = [b for b in m.content if b.type == "tool_use"][0]
    assert use.name == "get_weather" and use.input == {"city": "Paris"} and m.stop_reason == "tool_use"
    with ai.claude.messages.stream(model=model, max_tokens=100, tools=[tool], messages=[{"role": "user", "content": "weather?"}]) as s:
        final = s.get_final_message()
    assert [b.input for b in final.content if b.type == "tool_use"] == [{"city": "Paris"}]


def test_anthropic_errors_are_sdk_exceptions(ai):
    bad = anthropic.Anthropic(base_url=ai.url, api_key="wrong", max_retries=0)
    with pytest.raises(anthropic.AuthenticationError) as e:
        bad.messages.create(model="claude", max_tokens=10, messages=[{"role": "user", "content": "x"}])
    assert e.value.body["error"]["type"] == "authentication_error"
    with pytest.raises(anthropic.NotFoundError):
        ai.claude.messages.create(model="nope", max_tokens=10, messages=[{"role": "user", "content": "x"}])
    assert ai.claude.messages.count_tokens(model="claude", messages=[{"role": "user", "content": "one two"}]).input_tokens > 0


def test_gen_ai_fields_in_the_access_log(ai):
    ai.oai.chat.completions.create(model="claude", messages=[{"role": "user", "content": "log me"}])
    line = wait_for("the access log line", lambda: next((json.loads(l) for l in ai.logs().splitlines()
                                                          if '"gen_ai":{' in l and "claude" in l), None))
    assert line["gen_ai"]["request_model"] == "claude" and line["gen_ai"]["provider"] == "fake-anthropic"
    assert line["gen_ai"]["input_tokens"] > 0 and line["gen_ai"]["output_tokens"] > 0
    assert line["consumer"] == "app" and line["service"] == "llm" and line["route"] == "chat_completions"
    assert line["upstream"] == f"127.0.0.1:{ai.fake.port}" and line["upstream_ms"] >= 0  # the provider, as host:port


def test_per_model_limits_and_gen_ai_metrics(gateway, fake, tmp_path):
    p = fake("p")
    models = "\n".join([
        f"    - {{ name: smart, deployments: [{deployment('fake-openai', 'gpt-4o', p)}] }}",
        f"    - {{ name: limited, deployments: [{deployment('fake-anthropic', 'claude-sonnet-4-5', p)}], "
        f"policies: [rate_limit: {{ by: consumer, minute: 2 }}] }}",
    ])
    g = gateway(llm_config(tmp_path, models))
    add_keys(g)
    for _ in range(2):
        g.oai.chat.completions.create(model="limited", messages=[{"role": "user", "content": "x"}])
    with pytest.raises(openai.RateLimitError) as e:
        g.oai.chat.completions.create(model="limited", messages=[{"role": "user", "content": "x"}])
    assert e.value.body["code"] == "rate_limit_exceeded"
    with pytest.raises(anthropic.RateLimitError) as e:
        g.claude.messages.create(model="limited", max_tokens=5, messages=[{"role": "user", "content": "x"}])
    assert e.value.body["error"]["type"] == "rate_limit_error"
    # Per consumer and model: the other consumer, and the other model, are untouched.
    admin = openai.OpenAI(base_url=g.url + "/v1", api_key=g.admin_key, max_retries=0)
    admin.chat.completions.create(model="limited", messages=[{"role": "user", "content": "x"}])
    g.oai.chat.completions.create(model="smart", messages=[{"role": "user", "content": "x"}])
    assert len(p.requests) == 4  # refused calls never reached the provider
    _, _, text = request(g.admin_port, "GET", "/metrics")
    text = text.decode()
    assert 'gen_ai_client_token_usage_count{gen_ai_system="fake-anthropic",gen_ai_request_model="limited",' \
           'gen_ai_response_model="claude-sonnet-4-5",gen_ai_token_type="output"} 3' in text
    assert 'http_server_request_duration_seconds_count{service="llm",http_route="chat_completions",status_class="4xx"} 1' in text


def test_a_reload_whose_ai_part_fails_changes_nothing_anywhere(gateway, fake, upstreams, tmp_path):
    """One config for three gates: a reload that moves an API route and the MCP endpoint but
    whose `llm:` part fails its provider check is refused whole. The routes, the MCP path and
    the models all stay as they were; nothing applied halfway."""
    import signal
    from conftest import service
    p = fake("p")
    up = upstreams()
    models = f"    - {{ name: smart, deployments: [{deployment('fake-openai', 'gpt-4o', p)}] }}"
    def config(route, mcp_path, provider="fake-openai"):
        return ("reload: { watch: false }\nservices:\n" + service("api", up.url, [route]) +
                f"mcp: {{ path: {mcp_path}, servers: [{{ name: s, url: \"http://127.0.0.1:1/mcp\" }}] }}\n" +
                llm_config(tmp_path, models).replace('provider: "fake-openai"', f'provider: "{provider}"'))
    g = gateway(config("/a", "/mcp"))
    add_keys(g)
    def state():
        return (request(g.port, "GET", "/a")[0], request(g.port, "GET", "/b")[0],
                request(g.port, "GET", "/mcp")[0], request(g.port, "GET", "/mcp2")[0])
    before = state()
    assert before[0] == 200 and before[1] == 404 and before[2] != 404 and before[3] == 404, before
    g.config.write_text(config("/b", "/mcp2", provider="no-such-provider"))
    g.proc.send_signal(signal.SIGHUP)
    wait_for("the refusal in the log", lambda: "config reload refused" in g.logs() or "reload failed" in g.logs())
    assert state() == before
    assert g.oai.chat.completions.create(model="smart", messages=[{"role": "user", "content": "x"}]).choices
    metrics = request(g.admin_port, "GET", "/metrics")[2].decode()
    assert 'triplegate_config_reloads_total{result="refused"} 1' in metrics
    # The same edit with a good llm part applies whole: every gate moves at once.
    g.config.write_text(config("/b", "/mcp2"))
    g.proc.send_signal(signal.SIGHUP)
    wait_for("the new routes", lambda: request(g.port, "GET", "/b")[0] == 200)
    assert request(g.port, "GET", "/a")[0] == 404
    assert request(g.port, "GET", "/mcp")[0] == 404 and request(g.port, "GET", "/mcp2")[0] != 404
    assert g.oai.chat.completions.create(model="smart", messages=[{"role": "user", "content": "x"}]).choices


def test_reload_adds_models_and_refuses_a_bad_llm_section(gateway, fake, tmp_path):
    import signal
    p = fake("p")
    one = f"    - {{ name: smart, deployments: [{deployment('fake-openai', 'gpt-4o', p)}] }}"
    text = "reload: { watch: false }\n" + llm_config(tmp_path, one)
    g = gateway(text)
    add_keys(g)
    with pytest.raises(openai.NotFoundError):
        g.oai.chat.completions.create(model="claude", messages=[{"role": "user", "content": "x"}])
    # A deployment naming no provider: the reload is refused and the old config serves on.
    g.config.write_text(text.replace("provider: \"fake-openai\"", "provider: \"no-such-provider\""))
    g.proc.send_signal(signal.SIGHUP)
    wait_for("the refusal in the log", lambda: "no-such-provider" in g.logs() or "names no provider" in g.logs())
    assert g.oai.chat.completions.create(model="smart", messages=[{"role": "user", "content": "x"}]).choices
    # A good reload adds a model; routing state (and keys) carry over.
    two = one + f"\n    - {{ name: claude, deployments: [{deployment('fake-anthropic', 'claude-sonnet-4-5', p)}] }}"
    g.config.write_text("reload: { watch: false }\n" + llm_config(tmp_path, two))
    g.proc.send_signal(signal.SIGHUP)
    wait_for("the new model", lambda: "claude" in [m.id for m in g.oai.models.list()])
    assert g.oai.chat.completions.create(model="claude", messages=[{"role": "user", "content": "x"}]).choices
