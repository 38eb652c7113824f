"""Budgets under 100 concurrent adversarial calls: every multiplier of output is reserved, so
what is spent never exceeds the budget by more than one call's worst case. The provider bills
what the caller asked for (each of `n` choices at full length): the most a call can cost."""
import concurrent.futures
import json

import openai
import pytest

from test_ai_gate import add_keys, deployment, llm_config

# $1 in / $2 out per 1M tokens (the test providers' price). A call below asks for n=4 choices
# of up to 250 tokens: its worst output costs 4 * 250 * $2/1M = $0.002.
N, MAX_TOKENS = 4, 250
WORST_OUTPUT_USD = N * MAX_TOKENS * 2 / 1_000_000
BUDGET_USD = 0.010


def spend_config(tmp_path, p, redis=None):
    models = f"    - {{ name: smart, deployments: [{deployment('fake-openai', 'gpt-4o', p)}] }}"
    spend = f"  budgets:\n    - {{ team: growth, usd: {BUDGET_USD:.6f}, period: day }}"
    if redis:
        return f"redis: {redis}\n" + llm_config(tmp_path, models, extra="  counters: redis\n" + spend)
    return llm_config(tmp_path, models, extra=spend)


def burst(gateways, fake):
    # The provider answers every call at its worst: all n choices at full length.
    fake.then(*[{"usage": {"completion_tokens": N * MAX_TOKENS}} for _ in range(100)])

    def one(i):
        g = gateways[i % len(gateways)]
        try:
            g.oai.chat.completions.create(model="smart", n=N, max_tokens=MAX_TOKENS, messages=[{"role": "user", "content": "hi"}])
            return True
        except openai.RateLimitError as e:
            assert e.body["code"] == "insufficient_quota"
            return False

    with concurrent.futures.ThreadPoolExecutor(max_workers=100) as pool:
        return sum(pool.map(one, range(100)))


def spent(g):
    from test_ledger import chargeback
    return float(json.loads(chargeback(g, "--group-by", "team", "--format", "json"))["total"]["cost_usd"])


def test_n_is_reserved_so_a_budget_holds_under_100_concurrent_calls(gateway, fake, tmp_path):
    p = fake("p")
    g = gateway(spend_config(tmp_path, p))
    add_keys(g)
    # One call with n=20 could cost $0.010 of output alone: more than is left after any other.
    admitted = burst([g], p)
    assert 1 <= admitted < 100
    g.stop()
    assert spent(g) <= BUDGET_USD + WORST_OUTPUT_USD + 0.0001


def test_n_is_reserved_across_two_replicas_sharing_redis(gateway, fake, tmp_path, redis_server):
    p = fake("p")
    text = spend_config(tmp_path, p, redis=redis_server.url)
    g1, g2 = gateway(text), gateway(text)
    add_keys(g1)
    add_keys(g2)
    admitted = burst([g1, g2], p)
    assert 1 <= admitted < 100
    g1.stop()
    g2.stop()
    assert spent(g1) <= BUDGET_USD + WORST_OUTPUT_USD + 0.0001


def test_a_call_whose_choices_cannot_fit_is_refused_before_the_provider(gateway, fake, tmp_path):
    p = fake("p")
    g = gateway(spend_config(tmp_path, p))
    add_keys(g)
    with pytest.raises(openai.RateLimitError):
        g.oai.chat.completions.create(model="smart", n=128, max_tokens=4096, messages=[{"role": "user", "content": "hi"}])
    assert p.requests == []
    assert g.oai.chat.completions.create(model="smart", max_tokens=5, messages=[{"role": "user", "content": "hi"}]).choices


def test_a_call_the_caller_abandons_before_the_first_byte_is_billed_its_prompt(gateway, fake, tmp_path):
    """The provider received the whole prompt and bills it, whether or not the caller stays:
    the row says the caller left (499), is marked estimated, and costs at least the prompt."""
    import socket

    from conftest import wait_for
    p = fake("p")
    g = gateway(spend_config(tmp_path, p))
    add_keys(g)
    p.then({"stall": 3})
    prompt = "word " * 4000  # about 20 KB: ~5,000 tokens estimated, $0.005 of input at $1/1M
    body = json.dumps({"model": "smart", "max_tokens": 5, "messages": [{"role": "user", "content": prompt}]}).encode()
    s = socket.create_connection(("127.0.0.1", g.port))
    s.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: gw\r\nContent-Type: application/json\r\nAuthorization: Bearer "
              + g.app_key.encode() + b"\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
    wait_for("the provider to get the call", lambda: len(p.requests) == 1)
    s.close()  # before any byte of the answer
    g.stop()
    from test_ledger import chargeback
    total = json.loads(chargeback(g, "--group-by", "team", "--format", "json"))["total"]
    assert float(total["cost_usd"]) >= 0.004
    import sqlite3
    with sqlite3.connect(tmp_path / "keys.db") as db:
        status, estimated, input_tokens = db.execute("SELECT status, estimated, input_tokens FROM ledger").fetchone()
    assert status == 499 and estimated == 1 and input_tokens >= 4000
