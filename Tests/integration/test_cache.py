"""The answer cache through the real binary and the official SDKs: exact hits, paraphrase hits
with controlled embeddings, scope isolation, stream replay, bypass headers, purge, embedding
failures, the ledger's zero-cost rows, and a snapshot kept across a restart."""
import json

import anthropic
import openai

from conftest import request, wait_for
from test_ai_gate import add_keys, deployment, llm_config

CACHE = """  cache:
    exact: {{ ttl: 1h }}
    semantic:
      embedding_model: embed
      threshold: 0.92
      ttl: 24h
      max_entries: 1000
      scope: [team, model, system_prompt, params]
      only_when: {{ temperature_max: 0.3, max_messages: 4 }}
      timeout: {timeout}
{extra}"""


def start(gateway, fake, tmp_path, timeout="2s", extra=""):
    p = fake("p")
    models = "\n".join([
        f"    - {{ name: smart, deployments: [{deployment('fake-openai', 'gpt-4o', p)}] }}",
        f"    - {{ name: other, deployments: [{deployment('fake-openai', 'gpt-4o-mini', p)}] }}",
        f"    - {{ name: claude, deployments: [{deployment('fake-anthropic', 'claude-sonnet-4-5', p)}] }}",
        f"    - {{ name: embed, deployments: [{deployment('fake-openai', 'text-embedding-3-small', p)}] }}",
    ])
    g = gateway(llm_config(tmp_path, models, extra=CACHE.format(timeout=timeout, extra=extra)))
    add_keys(g)
    # Controlled embeddings: a question, its paraphrase (cosine 0.995) and an unrelated one.
    p.vectors.update({
        "What is the capital of France?": [1, 0, 0, 0],
        "Which city is France's capital?": [1, 0.1, 0, 0],
        "How tall is Mont Blanc?": [0, 0, 1, 0],
    })
    return g, p


def chats(p):
    return [r for r in p.requests if r["path"].endswith("/chat/completions")]


def ask(g, text, client=None, **kw):
    kw.setdefault("temperature", 0)
    return (client or g.oai).chat.completions.with_raw_response.create(
        model=kw.pop("model", "smart"), messages=[{"role": "user", "content": text}], **kw)


def test_miss_then_exact_hit_then_paraphrase_hit(gateway, fake, tmp_path):
    g, p = start(gateway, fake, tmp_path)
    first = ask(g, "What is the capital of France?")
    assert first.headers["x-triplegate-cache"] == "miss"
    answer = first.parse().choices[0].message.content
    assert len(chats(p)) == 1
    # The same request, keys in another order and with stream options: an exact hit.
    again = ask(g, "What is the capital of France?")
    assert again.headers["x-triplegate-cache"] == "hit-exact"
    assert again.parse().choices[0].message.content == answer
    assert len(chats(p)) == 1
    # A paraphrase: a semantic hit with its similarity.
    para = ask(g, "Which city is France's capital?")
    assert para.headers["x-triplegate-cache"] == "hit-semantic"
    assert abs(float(para.headers["x-triplegate-cache-similarity"]) - 0.995) < 0.002
    assert para.parse().choices[0].message.content == answer
    # Something else: a miss, answered by the provider.
    other = ask(g, "How tall is Mont Blanc?")
    assert other.headers["x-triplegate-cache"] == "miss" and "Mont Blanc" in other.parse().choices[0].message.content
    assert len(chats(p)) == 2
    # A hot request (temperature above the limit) is not looked up by similarity.
    hot = ask(g, "Which city is France's capital?", temperature=0.9)
    assert hot.headers["x-triplegate-cache"] == "miss"
    assert len(chats(p)) == 3


def test_scopes_never_share_an_answer(gateway, fake, tmp_path):
    g, p = start(gateway, fake, tmp_path)
    ask(g, "What is the capital of France?")
    admin = openai.OpenAI(base_url=g.url + "/v1", api_key=g.admin_key, max_retries=0)
    # Another team, another model, another system prompt, other parameters: each a miss.
    assert ask(g, "What is the capital of France?", client=admin).headers["x-triplegate-cache"] == "miss"
    assert ask(g, "What is the capital of France?", model="other").headers["x-triplegate-cache"] == "miss"
    sys_prompt = g.oai.chat.completions.with_raw_response.create(
        model="smart", temperature=0, messages=[{"role": "system", "content": "Answer in French."},
                                                {"role": "user", "content": "What is the capital of France?"}])
    assert sys_prompt.headers["x-triplegate-cache"] == "miss"
    assert ask(g, "What is the capital of France?", max_tokens=7).headers["x-triplegate-cache"] == "miss"
    assert len(chats(p)) == 5
    # Each of those is now cached in its own scope.
    assert ask(g, "Which city is France's capital?", client=admin).headers["x-triplegate-cache"] == "hit-semantic"


def test_streams_are_kept_and_replayed_in_either_dialect(gateway, fake, tmp_path):
    g, p = start(gateway, fake, tmp_path)
    streamed = list(g.oai.chat.completions.create(model="smart", temperature=0, stream=True,
                                                  messages=[{"role": "user", "content": "What is the capital of France?"}]))
    text = "".join(c.choices[0].delta.content or "" for c in streamed if c.choices)
    assert text and len(chats(p)) == 1
    # Replayed as a stream, the same text, with the usage chunk when asked.
    with g.oai.chat.completions.with_streaming_response.create(
            model="smart", temperature=0, stream=True, stream_options={"include_usage": True},
            messages=[{"role": "user", "content": "What is the capital of France?"}]) as r:
        assert r.headers["x-triplegate-cache"] == "hit-exact"
        chunks = list(r.parse())
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == text
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens > 0
    assert [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason] == ["stop"]
    # Not streamed, and to an Anthropic SDK caller (its own dialect, its own cache key).
    whole = ask(g, "What is the capital of France?").parse()
    assert whole.choices[0].message.content == text
    claude = anthropic.Anthropic(base_url=g.url, api_key=g.app_key, max_retries=0)
    # (This SDK version takes temperature only through extra_body.)
    m1 = claude.messages.create(model="claude", max_tokens=50, extra_body={"temperature": 0},
                                messages=[{"role": "user", "content": "What is the capital of France?"}])
    with claude.messages.stream(model="claude", max_tokens=50, extra_body={"temperature": 0},
                                messages=[{"role": "user", "content": "What is the capital of France?"}]) as s:
        replay = s.get_final_message()
    assert replay.content[0].text == m1.content[0].text and replay.stop_reason == "end_turn"
    assert len([r for r in p.requests if r["path"].endswith("/messages")]) == 1


def test_cache_control_bypasses_and_purge(gateway, fake, tmp_path):
    g, p = start(gateway, fake, tmp_path)
    nocache = g.oai.with_options(default_headers={"cache-control": "no-cache"})
    nostore = g.oai.with_options(default_headers={"cache-control": "no-store"})
    # no-store: looked up (a miss here), but the answer is not kept.
    assert ask(g, "How tall is Mont Blanc?", client=nostore).headers["x-triplegate-cache"] == "miss"
    assert ask(g, "How tall is Mont Blanc?").headers["x-triplegate-cache"] == "miss"
    assert ask(g, "How tall is Mont Blanc?").headers["x-triplegate-cache"] == "hit-exact"
    assert ask(g, "How tall is Mont Blanc?", client=nocache).headers["x-triplegate-cache"] == "bypass"
    assert len(chats(p)) == 3
    status, _, body = request(g.admin_port, "DELETE", "/admin/cache?team=platform")
    assert status == 200 and json.loads(body) == {"purged": 0}
    status, _, body = request(g.admin_port, "DELETE", "/admin/cache?team=growth&model=smart")
    assert status == 200 and json.loads(body)["purged"] >= 1
    assert ask(g, "How tall is Mont Blanc?").headers["x-triplegate-cache"] == "miss"
    assert request(g.admin_port, "GET", "/admin/cache")[0] == 405
    cache = json.loads(request(g.admin_port, "GET", "/admin/config")[2])["llm"]["cache"]
    assert cache["exact"] == {"ttl": "1h"} and cache["semantic"]["threshold"] == 0.92
    assert cache["semantic"]["scope"] == ["team", "model", "system_prompt", "params"]


def test_embedding_failures_never_fail_the_request(gateway, fake, tmp_path):
    g, p = start(gateway, fake, tmp_path, timeout="300ms")
    # The first attempt and both retries (llm.retries.attempts: 2) fail.
    p.then(*[{"status": 500, "message": "embedding service down"}] * 3)
    r = ask(g, "What is the capital of France?")
    assert r.status_code == 200 and r.headers["x-triplegate-cache"] == "miss"
    p.then({"stall": 2})  # the embedding call takes longer than its timeout
    r = ask(g, "How tall is Mont Blanc?")
    assert r.status_code == 200 and r.headers["x-triplegate-cache"] == "miss"
    status, _, body = request(g.admin_port, "GET", "/metrics")
    assert "triplegate_llm_cache_embedding_failures_total 2" in body.decode()
    assert 'triplegate_llm_cache_requests_total{result="miss"} 2' in body.decode()


def test_hits_are_in_the_ledger_at_no_cost_with_what_they_saved(gateway, fake, tmp_path):
    g, p = start(gateway, fake, tmp_path)
    first = ask(g, "What is the capital of France?").parse()
    cost = first.usage.prompt_tokens + 2 * first.usage.completion_tokens  # µUSD at the test prices
    ask(g, "What is the capital of France?")
    ask(g, "Which city is France's capital?")
    g.stop()
    from test_ledger import chargeback
    report = json.loads(chargeback(g, "--group-by", "model", "--format", "json"))
    smart = [l for l in report["lines"] if l["model"] == "smart"]
    assert sum(l["requests"] for l in smart) == 3
    assert sum(float(l["cost_usd"]) for l in smart) == cost / 1e6
    assert sum(float(l["saved_by_cache_usd"]) for l in smart) == 2 * cost / 1e6
    import sqlite3
    kinds = [r[0] for r in sqlite3.connect(tmp_path / "keys.db").execute("SELECT cache_hit FROM ledger WHERE model = 'smart' ORDER BY id")]
    assert kinds == ["none", "exact", "semantic"]


def test_the_cache_survives_a_restart(gateway, fake, tmp_path):
    extra = f"    snapshot_dir: {tmp_path / 'cache'}"
    g, p = start(gateway, fake, tmp_path, extra=extra)
    ask(g, "What is the capital of France?")
    g.stop()  # graceful: the keeper saves the cache
    assert (tmp_path / "cache" / "entries.json").exists()
    g2 = gateway(g.config.read_text())
    add_keys(g2)
    assert ask(g2, "What is the capital of France?").headers["x-triplegate-cache"] == "hit-exact"
    assert ask(g2, "Which city is France's capital?").headers["x-triplegate-cache"] == "hit-semantic"
    assert len(chats(p)) == 1
