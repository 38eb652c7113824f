"""AI gate failover: retries that honour retry-after, cooldown, fallbacks, streams cut before and
after the first byte, stalls, key rotation, and providers over TLS with a test CA."""
import time

import anthropic
import openai
import pytest

from conftest import self_signed, wait_for
from test_ai_gate import add_keys, deployment, llm_config


def start(gateway, tmp_path, models, extra="", retries="{ attempts: 2, base_delay: 1ms, max_delay: 2s }",
          cooldown="{ failures: 3, for: 30s }"):
    text = llm_config(tmp_path, models, extra)
    text = text.replace("retries: { attempts: 2, base_delay: 1ms, max_delay: 2s }", f"retries: {retries}")
    text = text.replace("cooldown: { failures: 3, for: 30s }", f"cooldown: {cooldown}")
    g = gateway(text)
    add_keys(g)
    return g


def ask(g, model="smart", **kw):
    return g.oai.chat.completions.with_raw_response.create(model=model, messages=[{"role": "user", "content": "hi"}], **kw)


def test_429_fails_over_to_the_next_deployment(gateway, fake, tmp_path):
    a, b = fake("a"), fake("b")
    g = start(gateway, tmp_path, f"    - {{ name: smart, deployments: [{deployment('fake-openai', 'gpt-4o', a)}, "
                                 f"{deployment('fake-anthropic', 'claude-sonnet-4-5', b)}] }}")
    a.then({"status": 429, "headers": {"retry-after": "0"}})
    r = ask(g)
    assert r.headers["x-triplegate-attempts"] == "2" and r.headers["x-triplegate-provider"] == "fake-anthropic"
    assert r.parse().choices[0].message.content.startswith("Hello from b")
    assert len(a.requests) == 1 and len(b.requests) == 1


def test_all_deployments_failing_gives_the_providers_error(gateway, fake, tmp_path):
    a, b = fake("a"), fake("b")
    g = start(gateway, tmp_path, f"    - {{ name: smart, deployments: [{deployment('fake-openai', 'gpt-4o', a)}, "
                                 f"{deployment('fake-openai', 'gpt-4o-mini', b)}] }}")
    for f in (a, b):
        f.then(*[{"status": 500, "message": f"{f.name} is down"}] * 3)
    with pytest.raises(openai.InternalServerError) as e:
        ask(g)
    assert e.value.response.headers["x-triplegate-attempts"] == "3"  # the first try and two retries
    assert "is down" in e.value.message
    assert len(a.requests) + len(b.requests) == 3
    # A 400 is the caller's fault: not retried, not failed over.
    a.script.clear()
    b.script.clear()
    a.then({"status": 400, "message": "bad request"})
    b.then({"status": 400, "message": "bad request"})
    with pytest.raises(openai.BadRequestError) as e:
        ask(g)
    assert e.value.response.headers["x-triplegate-attempts"] == "1"


def test_retry_after_is_honoured(gateway, fake, tmp_path):
    a = fake("a")
    g = start(gateway, tmp_path, f"    - {{ name: smart, deployments: [{deployment('fake-openai', 'gpt-4o', a)}] }}")
    a.then({"status": 429, "headers": {"retry-after-ms": "400"}})
    began = time.monotonic()
    r = ask(g)
    assert time.monotonic() - began >= 0.4
    assert r.headers["x-triplegate-attempts"] == "2"


def test_anthropic_overloaded_529_is_retried(gateway, fake, tmp_path):
    c = fake("c")
    g = start(gateway, tmp_path, f"    - {{ name: smart, deployments: [{deployment('fake-anthropic', 'claude-sonnet-4-5', c)}] }}")
    c.then({"status": 529, "message": "Overloaded"})
    assert ask(g).headers["x-triplegate-attempts"] == "2"
    c.then(*[{"status": 529, "message": "Overloaded"}] * 3)
    with pytest.raises(anthropic.APIStatusError) as e:
        g.claude.messages.create(model="smart", max_tokens=10, messages=[{"role": "user", "content": "x"}])
    assert e.value.status_code == 529 and e.value.body["error"]["type"] == "overloaded_error"


def test_cooldown_takes_a_failing_deployment_out_and_brings_it_back(gateway, fake, tmp_path):
    a, b = fake("a"), fake("b")
    g = start(gateway, tmp_path, f"    - {{ name: smart, deployments: [{deployment('fake-openai', 'gpt-4o', a)}, "
                                 f"{deployment('fake-openai', 'gpt-4o-mini', b)}] }}",
              retries="{ attempts: 1, base_delay: 1ms }", cooldown="{ failures: 2, for: 1s }")
    a.then(*[{"status": 503}] * 2)
    for _ in range(4):
        assert ask(g).headers["x-triplegate-provider"] == "fake-openai"
    failed = len(a.requests)
    assert failed == 2  # two failures cooled it down
    # Out of rotation: every request now goes to b, and a sees nothing.
    for _ in range(6):
        assert ask(g).headers["x-triplegate-model"] == "gpt-4o-mini"
    assert len(a.requests) == failed
    # After the cooldown it is tried again and, answering, is back in rotation.
    wait_for("a back in rotation", lambda: ask(g).headers["x-triplegate-model"] == "gpt-4o", timeout=10)
    assert len(a.requests) == failed + 1


def test_fallback_on_context_window_and_on_errors(gateway, fake, tmp_path):
    a, b = fake("a"), fake("b")
    g = start(gateway, tmp_path, "\n".join([
        f"    - {{ name: smart, deployments: [{deployment('fake-openai', 'gpt-4o', a)}], fallbacks: [big] }}",
        f"    - {{ name: big, deployments: [{deployment('fake-gemini', 'gemini-2.5-flash', b)}] }}",
        f"    - {{ name: strict, deployments: [{deployment('fake-openai', 'gpt-4o-mini', a)}], fallbacks: [big], fallback_on: [errors] }}",
    ]))
    a.then({"status": 400, "message": "This model's maximum context length is 128000 tokens", "code": "context_length_exceeded"})
    r = ask(g)
    assert r.headers["x-triplegate-provider"] == "fake-gemini" and r.headers["x-triplegate-attempts"] == "2"
    # Without context_window in fallback_on, the caller gets the provider's 400.
    a.then({"status": 400, "message": "This model's maximum context length is 128000 tokens", "code": "context_length_exceeded"})
    with pytest.raises(openai.BadRequestError) as e:
        ask(g, model="strict")
    assert "maximum context length" in e.value.message
    a.then(*[{"status": 502}] * 3)
    assert ask(g, model="strict").headers["x-triplegate-provider"] == "fake-gemini"
    # A content-policy refusal falls back too (where fallback_on allows it).
    a.then({"status": 400, "message": "The response was filtered due to our content management policy", "code": "content_filter"})
    assert ask(g).headers["x-triplegate-provider"] == "fake-gemini"


def test_stream_cut_before_the_first_byte_fails_over(gateway, fake, tmp_path):
    a, b = fake("a"), fake("b")
    g = start(gateway, tmp_path, f"    - {{ name: smart, deployments: [{deployment('fake-openai', 'gpt-4o', a)}, "
                                 f"{deployment('fake-anthropic', 'claude-sonnet-4-5', b)}] }}")
    a.then({"cut_after": 0})
    r = g.oai.chat.completions.with_raw_response.create(model="smart", messages=[{"role": "user", "content": "s"}], stream=True)
    assert r.headers["x-triplegate-provider"] == "fake-anthropic"
    text = "".join(c.choices[0].delta.content or "" for c in r.parse() if c.choices)
    assert text.startswith("Hello from b")


@pytest.mark.parametrize("provider,model", [("fake-openai", "gpt-4o"), ("fake-anthropic", "claude-sonnet-4-5"),
                                            ("fake-gemini", "gemini-2.5-flash")])
@pytest.mark.parametrize("how", [{"cut_after": 3}, {"stream_error": 3}])
def test_stream_broken_after_the_first_byte_ends_with_an_error_event(gateway, fake, tmp_path, provider, model, how):
    a = fake("a")
    g = start(gateway, tmp_path, f"    - {{ name: smart, deployments: [{deployment(provider, model, a)}] }}")
    a.then(how)
    got = []
    with pytest.raises(openai.APIError):
        for c in g.oai.chat.completions.create(model="smart", messages=[{"role": "user", "content": "one two three four"}], stream=True):
            got.append(c)
    assert got  # the first events arrived before the failure
    a.then(how)
    with pytest.raises(anthropic.APIError):
        with g.claude.messages.stream(model="smart", max_tokens=50, messages=[{"role": "user", "content": "one two three four"}]) as s:
            "".join(s.text_stream)
    # The gateway is still serving.
    assert ask(g).parse().choices[0].message.content


def test_a_stalled_provider_times_out_and_fails_over(gateway, fake, tmp_path):
    a, b = fake("a"), fake("b")
    g = start(gateway, tmp_path, f"    - {{ name: smart, deployments: [{deployment('fake-openai', 'gpt-4o', a, timeout='300ms')}, "
                                 f"{deployment('fake-openai', 'gpt-4o-mini', b)}] }}")
    a.then({"stall": 2})
    began = time.monotonic()
    r = ask(g)
    assert r.headers["x-triplegate-model"] == "gpt-4o-mini" and time.monotonic() - began < 1.5
    # A provider slow between stream events, but within the timeout, is not cut.
    b.then({"slow": 0.05})
    chunks = list(g.oai.chat.completions.create(model="smart", messages=[{"role": "user", "content": "a b c"}], stream=True))
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices).endswith("a b c")


def test_keys_rotate_per_deployment(gateway, fake, tmp_path, monkeypatch):
    a = fake("a")
    monkeypatch.setenv("TG_TEST_PROVIDER_KEY", "k1")  # keys come from the environment, as in production
    d = deployment("fake-openai", "gpt-4o", a)
    d = d.replace('api_key: "sk-fake-openai"', 'api_keys: ["${TG_TEST_PROVIDER_KEY}", "k2", "k3"]')
    g = start(gateway, tmp_path, f"    - {{ name: smart, deployments: [{d}] }}")
    for _ in range(6):
        ask(g)
    used = [r["headers"]["authorization"] for r in a.requests]
    assert sorted(used) == ["Bearer k1", "Bearer k1", "Bearer k2", "Bearer k2", "Bearer k3", "Bearer k3"]
    assert used[:3] != [used[0]] * 3


def test_weighted_deployments_split_traffic(gateway, fake, tmp_path):
    a, b = fake("a"), fake("b")
    g = start(gateway, tmp_path, f"    - {{ name: smart, deployments: [{deployment('fake-openai', 'gpt-4o', a, weight=3)}, "
                                 f"{deployment('fake-openai', 'gpt-4o-mini', b, weight=1)}] }}")
    for _ in range(8):
        ask(g)
    assert (len(a.requests), len(b.requests)) == (6, 2)


def test_lowest_cost_routing_prefers_the_cheaper_price(gateway, fake, tmp_path):
    a, b = fake("a"), fake("b")
    text = llm_config(tmp_path, f"    - {{ name: smart, routing: lowest_cost, deployments: [{deployment('fake-openai', 'gpt-4o', a)}, "
                                f"{deployment('fake-anthropic', 'claude-sonnet-4-5', b)}] }}")
    prov = tmp_path / "providers" / "fake-anthropic.yaml"
    prov.write_text(prov.read_text().replace("input: 1.00, output: 2.00", "input: 0.10, output: 0.20"))
    g = gateway(text)
    add_keys(g)
    assert {ask(g).headers["x-triplegate-provider"] for _ in range(4)} == {"fake-anthropic"}


def test_provider_over_tls_verified_against_a_configured_ca(gateway, fake, tmp_path):
    tls_cert = self_signed(tmp_path, "provider", sans="DNS:localhost,IP:127.0.0.1")
    p = fake("secure", tls=tls_cert)
    base = f"https://localhost:{p.port}"
    good = f"{{ provider: fake-anthropic, model: claude-sonnet-4-5, base_url: {base}, api_key: sk, ca_file: {tls_cert[0]} }}"
    untrusted = f"{{ provider: fake-anthropic, model: claude-sonnet-4-5, base_url: {base}, api_key: sk }}"
    g = start(gateway, tmp_path, f"    - {{ name: smart, deployments: [{good}] }}\n"
                                 f"    - {{ name: untrusted, deployments: [{untrusted}] }}", retries="{ attempts: 0 }")
    r = ask(g)
    assert r.parse().choices[0].message.content.startswith("Hello from secure")
    # The system trust store does not know the test CA: the call fails, and nothing is sent.
    before = len(p.requests)
    with pytest.raises(openai.APIStatusError) as e:
        ask(g, model="untrusted")
    assert e.value.status_code == 502 and len(p.requests) == before
