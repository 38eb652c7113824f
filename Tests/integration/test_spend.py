"""Token limits and USD budgets through the real binary: refused before any provider call, in
the caller's dialect, with OpenAI's rate-limit headers; no overspend under 100 concurrent calls;
a restart keeps what was spent."""
import concurrent.futures
import json

import anthropic
import openai
import pytest

from conftest import request
from test_ai_gate import add_keys, deployment, llm_config


def start(gateway, tmp_path, p, spend, store=None):
    models = f"    - {{ name: smart, deployments: [{deployment('fake-openai', 'gpt-4o', p)}] }}"
    g = gateway(llm_config(tmp_path, models, extra=spend, store=store))
    add_keys(g)
    return g


def ask(g, max_tokens=20, client=None):
    return (client or g.oai).chat.completions.with_raw_response.create(
        model="smart", max_tokens=max_tokens, messages=[{"role": "user", "content": "hello"}])


def test_request_and_token_limits_refuse_before_the_provider(gateway, fake, tmp_path):
    p = fake("p")
    g = start(gateway, tmp_path, p, "  limits:\n    - { by: consumer, model: \"*\", requests_per_day: 3, tokens_per_day: 100000 }")
    r = ask(g)
    assert r.headers["x-ratelimit-limit-requests"] == "3" and r.headers["x-ratelimit-remaining-requests"] == "2"
    assert r.headers["x-ratelimit-limit-tokens"] == "100000" and int(r.headers["x-ratelimit-remaining-tokens"]) < 100000
    assert r.headers["x-ratelimit-reset-requests"].endswith("s")
    ask(g)
    ask(g)
    with pytest.raises(openai.RateLimitError) as e:
        ask(g)
    assert e.value.body["code"] == "rate_limit_exceeded" and int(e.value.response.headers["retry-after"]) > 0
    with pytest.raises(anthropic.RateLimitError):
        g.claude.messages.create(model="smart", max_tokens=5, messages=[{"role": "user", "content": "x"}])
    assert len(p.requests) == 3  # refused calls never reached the provider
    # Another consumer has its own count; a call too big for the token limit is refused outright.
    admin = openai.OpenAI(base_url=g.url + "/v1", api_key=g.admin_key, max_retries=0)
    assert ask(g, client=admin).parse().choices
    with pytest.raises(openai.RateLimitError) as e:
        admin.chat.completions.create(model="smart", messages=[{"role": "user", "content": "x" * 320_000}])
    assert "tokens per day" in e.value.message


def test_budget_holds_under_100_concurrent_calls_and_across_a_restart(gateway, fake, tmp_path, store):
    p = fake("p")
    # $1 in / $2 out per 1M tokens: a call here costs about 30 µUSD and reserves about 60.
    spend = "  budgets:\n    - { team: growth, usd: 0.000300, period: day, soft_alert_at: 0.5 }"
    g = start(gateway, tmp_path, p, spend, store)

    def one(_):
        try:
            r = ask(g)
            return r.headers["x-triplegate-budget-remaining-usd"]
        except openai.RateLimitError as e:
            assert e.body["code"] == "insufficient_quota" and e.body["type"] == "insufficient_quota"
            return None

    with concurrent.futures.ThreadPoolExecutor(max_workers=100) as pool:
        results = list(pool.map(one, range(100)))
    admitted = [r for r in results if r is not None]
    assert 3 <= len(admitted) < 100
    # Nothing was spent beyond the budget: the ledger's sum is at most $0.000300.
    g.stop()
    from test_ledger import chargeback
    total = json.loads(chargeback(g, "--group-by", "team", "--format", "json"))["total"]
    assert 0 < float(total["cost_usd"]) <= 0.000300
    assert total["requests"] == 100  # refused calls are in the ledger too, at no cost
    assert "budget soft alert" in g.logs()

    # A restart reads the day's spend back from the ledger: the budget is not fresh again.
    g2 = gateway(g.config.read_text())
    add_keys(g2)
    spent_before = float(total["cost_usd"])
    g = g2
    results = [one(i) for i in range(10)]
    assert any(r is None for r in results)
    g2.stop()
    total = json.loads(chargeback(g2, "--group-by", "team", "--format", "json"))["total"]
    assert float(total["cost_usd"]) <= 0.000300 and float(total["cost_usd"]) >= spent_before


def test_two_gateways_share_a_budget_through_redis(gateway, fake, tmp_path, redis_server):
    p = fake("p")
    models = f"    - {{ name: smart, deployments: [{deployment('fake-openai', 'gpt-4o', p)}] }}"
    spend = "  counters: redis\n  budgets:\n    - { team: growth, usd: 0.000300, period: day }"
    text = f"redis: {redis_server.url}\n" + llm_config(tmp_path, models, extra=spend)
    g1, g2 = gateway(text), gateway(text)  # one store file, one Redis: two replicas
    add_keys(g1)
    add_keys(g2)

    def one(i):
        g = (g1, g2)[i % 2]
        try:
            ask(g)
            return True
        except openai.RateLimitError as e:
            assert e.body["code"] == "insufficient_quota"
            return False

    with concurrent.futures.ThreadPoolExecutor(max_workers=100) as pool:
        admitted = sum(pool.map(one, range(100)))
    assert 3 <= admitted < 100
    g1.stop()
    g2.stop()
    from test_ledger import chargeback
    total = json.loads(chargeback(g1, "--group-by", "team", "--format", "json"))["total"]
    # Both replicas' calls together stay within the one budget.
    assert total["requests"] == 100 and 0 < float(total["cost_usd"]) <= 0.000300


@pytest.mark.parametrize("counters", ["local", "redis"])
def test_token_limits_hold_under_100_concurrent_calls(gateway, fake, tmp_path, request, counters):
    """Each call reserves its prompt estimate plus max_tokens before the provider is asked, all or
    nothing under the counters' lock (or in one Redis script). With the provider holding every
    answer, nothing settles while 100 calls arrive at once, on one gateway or spread over two
    sharing Redis: exactly as many are let through as the limit has room for."""
    p = fake("p")
    models = f"    - {{ name: smart, deployments: [{deployment('fake-openai', 'gpt-4o', p)}] }}"
    limit = 1_000
    spend = f"  counters: {counters}\n  limits:\n    - {{ by: team, model: \"*\", tokens_per_day: {limit} }}"
    text = llm_config(tmp_path, models, extra=spend)
    if counters == "redis":
        text = f"redis: {request.getfixturevalue('redis_server').url}\n" + text
    gateways = [gateway(text)] + ([gateway(text)] if counters == "redis" else [])
    for g in gateways:
        add_keys(g)

    def call(g):
        return ask(g, max_tokens=50, client=g.oai.with_options(max_retries=0, timeout=30))

    # One call alone shows what each reserves (they are all alike) and leaves what it used.
    first = call(gateways[0])
    reserved = limit - int(first.headers["x-ratelimit-remaining-tokens"])
    used = first.parse().usage.total_tokens
    room = limit - used

    def one(i):
        try:
            call(gateways[i % len(gateways)])
            return True
        except openai.RateLimitError as e:
            assert e.body["code"] == "rate_limit_exceeded" and "tokens per day" in e.message
            return False

    p.then(*[{"stall": 5}] * 100)  # every admitted call waits: no reservation is settled meanwhile
    with concurrent.futures.ThreadPoolExecutor(max_workers=100) as pool:
        admitted = sum(pool.map(one, range(100)))
    assert admitted == room // reserved
    assert len(p.requests) == 1 + admitted  # refused calls never reached the provider
    for g in gateways:
        g.stop()
    from test_ledger import chargeback
    total = json.loads(chargeback(gateways[0], "--group-by", "team", "--format", "json"))["total"]
    assert total["requests"] == 101
    assert total["input_tokens"] + total["output_tokens"] <= limit


def test_a_key_budget_alerts_once_by_log_metric_and_webhook_then_stops_that_key(gateway, fake, tmp_path):
    """A budget on one API key: past its soft_alert_at share, one log line, one count in
    /metrics and one JSON POST to its webhook; at its ceiling, that key is refused and the
    consumer's other key is not."""
    import http.server
    import subprocess
    import threading

    from conftest import BIN, wait_for
    from test_ai_gate import keys

    hooks = []

    class Hook(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers["content-length"]))
            hooks.append((self.path, self.headers["content-type"], json.loads(body)))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Hook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        p = fake("p")
        models = f"    - {{ name: smart, deployments: [{deployment('fake-openai', 'gpt-4o', p)}] }}"
        g = gateway(llm_config(tmp_path, models))
        budgeted = keys(g, "app")
        listed = subprocess.run([BIN, "keys", "list", "--config", str(g.config)], capture_output=True, text=True, timeout=30).stdout
        key_id = listed.splitlines()[1].split("\t")[0]  # the only key so far
        other = keys(g, "app")
        g.stop()
        # $1 in / $2 out per 1M tokens: each call costs a few dozen µUSD.
        spend = (f"  budgets:\n    - {{ key: {key_id}, usd: 0.000400, period: day, soft_alert_at: 0.5, "
                 f"webhook: \"http://127.0.0.1:{server.server_port}/budget-hook\" }}")
        g = gateway(llm_config(tmp_path, models, extra=spend))
        client = openai.OpenAI(base_url=g.url + "/v1", api_key=budgeted, max_retries=0)
        refused = None
        for _ in range(60):
            try:
                client.chat.completions.create(model="smart", max_tokens=20, messages=[{"role": "user", "content": "hello"}])
            except openai.RateLimitError as e:
                refused = e
                break
        assert refused is not None and refused.body["code"] == "insufficient_quota"
        assert "budget of key" in refused.message
        # The consumer's other key has no budget of its own.
        assert openai.OpenAI(base_url=g.url + "/v1", api_key=other, max_retries=0).chat.completions.create(
            model="smart", max_tokens=20, messages=[{"role": "user", "content": "hello"}]).choices

        wait_for("the webhook", lambda: hooks, timeout=10)
        path, content_type, alert = hooks[0]
        assert path == "/budget-hook" and content_type == "application/json"
        assert alert["type"] == "budget.soft_alert" and alert["budget"] == f"key {key_id} (day)"
        assert alert["budget_usd"] == "0.000400" and 0.000200 <= float(alert["spent_usd"]) <= 0.000400
        status, _, body = request(g.admin_port, "GET", "/metrics")
        assert status == 200
        assert f'triplegate_budget_alerts_total{{budget="key {key_id} (day)"}} 1' in body.decode()
        assert g.logs().count("budget soft alert") == 1 and len(hooks) == 1  # once per window
    finally:
        server.shutdown()
        server.server_close()


def test_a_redis_that_lost_the_counters_is_rebuilt_from_the_ledger(gateway, fake, tmp_path, redis_server):
    """Redis restarted without persistence: the budget is not handed out afresh."""
    import sqlite3
    import subprocess
    from conftest import RedisServer, wait_for
    p = fake("p")
    models = f"    - {{ name: smart, deployments: [{deployment('fake-openai', 'gpt-4o', p)}] }}"
    spend = "  counters: redis\n  budgets:\n    - { team: growth, usd: 0.000300, period: day }"
    g = gateway(f"redis: {redis_server.url}\n" + llm_config(tmp_path, models, extra=spend))
    add_keys(g)
    admitted = 0
    for _ in range(40):
        try:
            ask(g)
            admitted += 1
        except openai.RateLimitError as e:
            assert e.body["code"] == "insufficient_quota"
            break
    assert 3 <= admitted < 40
    db = tmp_path / "keys.db"
    wait_for("the ledger", lambda: sqlite3.connect(db).execute("SELECT COUNT(*) FROM ledger WHERE status = 200").fetchone()[0] == admitted)
    # Redis restarts on the same port with nothing in it.
    port = redis_server.port
    redis_server.stop()
    fresh = subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                              "--dir", str(tmp_path)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for("redis again", redis_server.ping)
        refused = 0
        for _ in range(5):
            try:
                ask(g)
            except openai.RateLimitError as e:
                assert e.body["code"] == "insufficient_quota"
                refused += 1
            except openai.APIError:
                pass  # the first call may meet the broken connection
        assert refused >= 4, refused  # still spent: rebuilt from the ledger, not fresh
        assert "rebuilding them from the ledger" in g.logs()
        total = sqlite3.connect(db).execute("SELECT COALESCE(SUM(cost_micros), 0) FROM ledger").fetchone()[0]
        assert total <= 300
    finally:
        fresh.kill()
        fresh.wait()
