"""The ledger and chargeback: every LLM call leaves one row, priced exactly from providers/, and
`triplegate chargeback` reports it; rows survive a graceful stop."""
import datetime
import json
import subprocess

import openai
import pytest

from conftest import BIN
from test_ai_gate import add_keys, deployment, llm_config


def chargeback(g, *args):
    today = datetime.datetime.now(datetime.timezone.utc).date()
    out = subprocess.run([BIN, "chargeback", "--config", str(g.config), "--from", str(today),
                          "--to", str(today + datetime.timedelta(days=1)), *args], capture_output=True, timeout=30)
    assert out.returncode == 0, out.stderr
    return out.stdout.decode()  # bytes as written: CSV lines end in CRLF (RFC 4180)


def test_every_call_is_billed_once_and_reported(gateway, fake, tmp_path, store):
    p = fake("p")
    g = gateway(llm_config(tmp_path, "\n".join([
        f"    - {{ name: smart, deployments: [{deployment('fake-openai', 'gpt-4o', p)}] }}",
        f"    - {{ name: claude, deployments: [{deployment('fake-anthropic', 'claude-sonnet-4-5', p)}] }}",
    ]), store=store))
    add_keys(g)
    # Test prices: $1.00 in and $2.00 out per 1M tokens, so a call costs prompt + 2 × completion µUSD.
    expected = {}
    tagged = g.oai.with_options(default_headers={"x-triplegate-tags": "project=search,env=prod"})
    for client, model in [(g.oai, "smart"), (tagged, "smart"), (g.oai, "claude")]:
        c = client.chat.completions.create(model=model, messages=[{"role": "user", "content": "price me please"}])
        expected[model] = expected.get(model, 0) + c.usage.prompt_tokens + 2 * c.usage.completion_tokens
    chunks = list(g.oai.chat.completions.create(model="claude", messages=[{"role": "user", "content": "stream"}], stream=True,
                                                stream_options={"include_usage": True}))
    u = [c.usage for c in chunks if c.usage][0]
    expected["claude"] += u.prompt_tokens + 2 * u.completion_tokens
    # A call the provider refused is recorded, at zero cost, with no provider served.
    p.then({"status": 400, "message": "bad"})
    try:
        g.oai.chat.completions.create(model="smart", messages=[{"role": "user", "content": "x"}])
    except Exception:
        pass
    g.stop()  # graceful: the writer flushes after the gateway drains

    report = json.loads(chargeback(g, "--group-by", "team,model", "--format", "json"))
    assert report["group_by"] == ["team", "model", "provider"]
    lines = {(l["model"], l["provider"]): l for l in report["lines"]}
    smart, claude = lines[("smart", "fake-openai")], lines[("claude", "fake-anthropic")]
    assert smart["team"] == "growth" and smart["requests"] == 2 and claude["requests"] == 2
    assert lines[("smart", "")]["requests"] == 1 and lines[("smart", "")]["cost_usd"] == "0.000000"
    assert smart["cost_usd"] == f"{expected['smart'] / 1e6:.6f}"
    assert claude["cost_usd"] == f"{expected['claude'] / 1e6:.6f}"
    assert report["total"]["cost_usd"] == f"{(expected['smart'] + expected['claude']) / 1e6:.6f}"

    csv = chargeback(g, "--group-by", "tag:project,consumer")
    rows = csv.split("\r\n")
    assert rows[0] == "tag:project,consumer,requests,input_tokens,cached_input_tokens,cache_write_tokens,output_tokens,cost_usd,saved_by_cache_usd"
    assert [r.split(",")[:3] for r in rows[1:] if r] == [["", "app", "4"], ["search", "app", "1"]]
    bad = subprocess.run([BIN, "chargeback", "--config", str(g.config), "--from", "2026-12-01", "--to", "2026-11-01"],
                         capture_output=True, text=True)
    assert bad.returncode != 0 and "from must be before to" in bad.stderr


def test_tags_come_from_the_header_and_from_the_body_metadata(gateway, fake, tmp_path, store):
    p = fake("p")
    g = gateway(llm_config(tmp_path, f"    - {{ name: smart, deployments: [{deployment('fake-openai', 'gpt-4o', p)}] }}", store=store))
    add_keys(g)
    ask = [{"role": "user", "content": "tag me"}]
    g.oai.chat.completions.create(model="smart", messages=ask, extra_body={"metadata": {"project": "ads", "env": "dev"}})
    # The header's tags come first; the body's metadata adds the names the header did not give.
    tagged = g.oai.with_options(default_headers={"x-triplegate-tags": "project=search"})
    tagged.chat.completions.create(model="smart", messages=ask, extra_body={"metadata": {"project": "ignored", "env": "prod"}})
    g.oai.chat.completions.create(model="smart", messages=ask)
    g.stop()
    rows = chargeback(g, "--group-by", "tag:project,tag:env").split("\r\n")
    assert rows[0].startswith("tag:project,tag:env,requests,")
    assert sorted(r.split(",")[:3] for r in rows[1:] if r) == [["", "", "1"], ["ads", "dev", "1"], ["search", "prod", "1"]]


def test_admin_chargeback_endpoint(gateway, fake, tmp_path, store):
    from conftest import request, wait_for
    p = fake("p")
    g = gateway(llm_config(tmp_path, f"    - {{ name: smart, deployments: [{deployment('fake-openai', 'gpt-4o', p)}] }}", store=store))
    add_keys(g)
    c = g.oai.chat.completions.create(model="smart", messages=[{"role": "user", "content": "bill me"}])
    cost = c.usage.prompt_tokens + 2 * c.usage.completion_tokens
    today = datetime.datetime.now(datetime.timezone.utc).date()
    path = f"/admin/chargeback?from={today}&to={today + datetime.timedelta(days=1)}&group_by=consumer,model&format=json"

    def report():
        status, headers, body = request(g.admin_port, "GET", path)
        assert status == 200 and headers["content-type"] == "application/json"
        lines = json.loads(body)["lines"]
        return lines if lines else None

    lines = wait_for("the row to reach the store", report)  # written within the writer's batch interval
    assert lines == [{"consumer": "app", "model": "smart", "provider": "fake-openai", "requests": 1, "input_tokens": c.usage.prompt_tokens,
                      "cached_input_tokens": 0, "cache_write_tokens": 0, "output_tokens": c.usage.completion_tokens,
                      "cost_usd": f"{cost / 1e6:.6f}", "saved_by_cache_usd": "0.000000"}]
    status, headers, body = request(g.admin_port, "GET", path.replace("format=json", "format=csv"))
    assert status == 200 and headers["content-type"].startswith("text/csv") and body.startswith(b"consumer,model,provider,requests")
    status, _, body = request(g.admin_port, "GET", path.replace("group_by=consumer,model", "group_by=colour"))
    assert status == 400 and b"unknown" in body
    assert request(g.admin_port, "POST", path)[0] == 405


def test_cut_streams_are_billed_by_what_was_delivered(gateway, fake, tmp_path, store):
    import openai
    p = fake("p")
    g = gateway(llm_config(tmp_path, f"    - {{ name: smart, deployments: [{deployment('fake-openai', 'gpt-4o', p)}] }}", store=store))
    add_keys(g)
    p.then({"cut_after": 4})
    got = ""
    try:
        for c in g.oai.chat.completions.create(model="smart", messages=[{"role": "user", "content": "one two three four five"}], stream=True):
            got += (c.choices[0].delta.content or "") if c.choices else ""
    except openai.APIError:
        pass
    assert got  # some text arrived before the cut
    g.stop()
    rows = store.rows("SELECT output_tokens, estimated, cost_micros, status, provider FROM ledger")
    assert len(rows) == 1
    output, estimated, cost, status, provider = rows[0]
    assert estimated == "1" and int(output) == (len(got.encode()) + 3) // 4 and int(cost) > 0 and provider == "fake-openai"


def test_a_retried_call_is_billed_once_for_the_answer_delivered(gateway, fake, tmp_path, store):
    """Attempts the provider refused (a 429, a 500) cost nothing: one row per call, priced from the
    answer delivered, with its attempts counted; the budget is charged that much and no more."""
    a = fake("a")
    models = f"    - {{ name: smart, deployments: [{deployment('fake-openai', 'gpt-4o', a)}] }}"
    budget = "  budgets:\n    - { team: growth, usd: 100, period: month }"
    g = gateway(llm_config(tmp_path, models, budget, store=store))
    add_keys(g)
    client = g.oai.with_options(max_retries=0)

    def call(content):
        r = client.chat.completions.with_raw_response.create(model="smart", messages=[{"role": "user", "content": content}])
        u = r.parse().usage
        # Test prices: $1 in, $2 out per 1M tokens.
        return r.headers, u.prompt_tokens + 2 * u.completion_tokens

    # The same call before and after: each reserves the same worst case, so the budget's
    # remaining dollars differ by exactly what was charged in between.
    first, first_cost = call("the same call")
    costs = []
    for refusal in ({"status": 429, "headers": {"retry-after": "0"}}, {"status": 500, "message": "overloaded"}):
        a.then(refusal)
        headers, cost = call("bill me once")
        assert headers["x-triplegate-attempts"] == "2"
        costs.append(cost)
    last, _ = call("the same call")
    assert len(a.requests) == 6
    charged = round((float(first["x-triplegate-budget-remaining-usd"]) - float(last["x-triplegate-budget-remaining-usd"])) * 1e6)
    assert charged == first_cost + sum(costs)
    g.stop()
    rows = store.rows("SELECT attempts, provider, cost_micros, status FROM ledger ORDER BY id")
    assert [(r[0], r[1], r[3]) for r in rows] == [("1", "fake-openai", "200"), ("2", "fake-openai", "200"),
                                                  ("2", "fake-openai", "200"), ("1", "fake-openai", "200")]
    assert [int(r[2]) for r in rows[:3]] == [first_cost] + costs
    report = json.loads(chargeback(g, "--group-by", "model", "--format", "json"))
    assert [l["requests"] for l in report["lines"]] == [4]


def test_no_row_lost_when_stopping_under_load(gateway, fake, tmp_path, store):
    import signal
    import threading
    p = fake("p")
    g = gateway(llm_config(tmp_path, f"    - {{ name: smart, deployments: [{deployment('fake-openai', 'gpt-4o', p)}] }}", store=store))
    add_keys(g)
    answered, lock, stop = [], threading.Lock(), threading.Event()

    def load():
        client = g.oai.with_options(max_retries=0, timeout=10)
        while not stop.is_set():
            try:
                r = client.chat.completions.with_raw_response.create(model="smart", messages=[{"role": "user", "content": "load"}])
                with lock:
                    answered.append(r.headers["x-request-id"])
            except Exception:  # noqa: BLE001 - after SIGTERM, connections are refused
                if g.proc.poll() is not None:
                    return

    workers = [threading.Thread(target=load) for _ in range(8)]
    for w in workers:
        w.start()
    from conftest import wait_for
    wait_for("some load", lambda: len(answered) >= 300, timeout=60)
    g.proc.send_signal(signal.SIGTERM)  # graceful: in-flight calls finish, then the writer flushes
    g.proc.wait(30)
    stop.set()
    for w in workers:
        w.join(15)
    ids = {row[0] for row in store.rows("SELECT request_id FROM ledger")}
    assert g.proc.returncode == 0
    assert set(answered) <= ids  # every answered call has its row


def test_sqlite_and_postgres_give_identical_reports(gateway, fake, tmp_path, postgres_server):
    """The same calls through a gateway on each store: every report, from the hourly sums and
    from the rows, is the same to the byte."""
    from conftest import Store
    p = fake("p")
    models = "\n".join([
        f"    - {{ name: smart, deployments: [{deployment('fake-openai', 'gpt-4o', p)}] }}",
        f"    - {{ name: claude, deployments: [{deployment('fake-anthropic', 'claude-sonnet-4-5', p)}] }}",
    ])
    stores = [Store(f"sqlite:{tmp_path / 'same.db'}", path=tmp_path / "same.db"), postgres_server.new_store()]
    gateways = [gateway(llm_config(tmp_path, models, store=s)) for s in stores]
    for g in gateways:
        add_keys(g)
        tagged = g.oai.with_options(default_headers={"x-triplegate-tags": "project=search,env=prod"})
        other = g.oai.with_options(default_headers={"x-triplegate-tags": 'project="quoted, comma",env=dev'})
        admin = openai.OpenAI(base_url=g.url + "/v1", api_key=g.admin_key, max_retries=0)
        for client, model, text in [(g.oai, "smart", "one"), (tagged, "smart", "two words"), (other, "claude", "three little words"),
                                    (admin, "smart", "Grüße aus Köln"), (admin, "claude", "x" * 300), (tagged, "claude", "cached")]:
            client.chat.completions.create(model=model, messages=[{"role": "user", "content": text}])
        list(admin.chat.completions.create(model="smart", messages=[{"role": "user", "content": "stream"}], stream=True,
                                           stream_options={"include_usage": True}))
        p.then({"status": 400, "message": "bad"})
        with pytest.raises(openai.BadRequestError):
            g.oai.chat.completions.create(model="smart", messages=[{"role": "user", "content": "refused"}])
        g.stop()

    now = datetime.datetime.now(datetime.timezone.utc)
    today = now.date()
    ranges = [(str(today), str(today + datetime.timedelta(days=1))),  # whole hours: the hourly sums
              ((now - datetime.timedelta(minutes=90, seconds=7)).strftime("%Y-%m-%dT%H:%M:%S"),  # the rows
               (now + datetime.timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M:%S"))]
    groupings = ["team,model", "consumer,provider,served_model", "day", "tag:project,tag:env", "team,day,tag:project", ""]
    compared = 0
    for start, end in ranges:
        for group_by in groupings:
            for fmt in ["csv", "json"]:
                reports = []
                for g in gateways:
                    out = subprocess.run([BIN, "chargeback", "--config", str(g.config), "--from", start, "--to", end,
                                          "--group-by", group_by, "--format", fmt], capture_output=True, timeout=30)
                    assert out.returncode == 0, out.stderr
                    reports.append(out.stdout)
                assert reports[0] == reports[1], (start, end, group_by, fmt)
                lines = reports[0].count(b"\r\n") - 1 if fmt == "csv" else len(json.loads(reports[0])["lines"])
                assert lines >= 1, (group_by, reports[0])
                compared += 1
    assert compared == 24
    # The rows themselves match, field by field (ids and times aside).
    columns = "consumer, team, tags, model, provider, served_model, attempts, input_tokens, cached_input_tokens, " \
              "cache_write_tokens, output_tokens, reasoning_tokens, cost_micros, saved_micros, cache_hit, status, estimated"
    assert stores[0].rows(f"SELECT {columns} FROM ledger ORDER BY id") == stores[1].rows(f"SELECT {columns} FROM ledger ORDER BY id")


def test_a_bad_or_unreachable_store_is_a_clear_error(tmp_path, postgres_server):
    from upstream import free_port
    bad = tmp_path / "bad.yaml"
    bad.write_text("store: mysql://db/x\n")
    out = subprocess.run([BIN, "check", str(bad)], capture_output=True, text=True)
    assert out.returncode == 1 and "store: must be sqlite:PATH or postgres://" in out.stderr
    # Nothing listening: refused at once, with the reason, not after the pool's retries.
    down = f"postgres://postgres@127.0.0.1:{free_port()}/x?sslmode=disable"
    out = subprocess.run([BIN, "keys", "list", "--store", down], capture_output=True, text=True, timeout=30)
    assert out.returncode != 0 and "Connection refused" in out.stderr
    # The server's own refusal is passed on.
    nobody = f"postgres://nobody@127.0.0.1:{postgres_server.port}/x?sslmode=disable"
    out = subprocess.run([BIN, "chargeback", "--store", nobody, "--from", "2026-11-01", "--to", "2026-12-01"],
                         capture_output=True, text=True, timeout=30)
    assert out.returncode != 0 and 'role "nobody" does not exist' in out.stderr
    # A gateway whose ledger store is unreachable does not start half-working.
    cfg = tmp_path / "down.yaml"
    cfg.write_text(llm_config(tmp_path, "    - { name: smart, deployments: [{ provider: fake-openai, model: gpt-4o, api_key: k, base_url: \"http://127.0.0.1:9/v1\" }] }").replace(
        f"store: sqlite:{tmp_path / 'keys.db'}", f"store: {down}"))
    out = subprocess.run([BIN, "serve", "--config", str(cfg), "--listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0"],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 1 and "the ledger store could not be opened" in out.stdout + out.stderr


def test_the_effective_config_shows_the_store_without_its_password(gateway, fake, tmp_path, postgres_server):
    from conftest import request
    store = postgres_server.new_store()
    # Trust authentication ignores the password; the gateway must still never show it.
    secret = store.spec.replace("postgres://postgres@", "postgres://postgres:s3cret-pw@")
    p = fake("p")
    spend = "  budgets:\n    - { team: growth, usd: 12.5, period: month }"
    g = gateway(llm_config(tmp_path, f"    - {{ name: smart, deployments: [{deployment('fake-openai', 'gpt-4o', p)}] }}", extra=spend)
                .replace(f"store: sqlite:{tmp_path / 'keys.db'}", f"store: {secret}"))
    status, _, body = request(g.admin_port, "GET", "/admin/config")
    assert status == 200 and b"s3cret-pw" not in body
    cfg = json.loads(body)
    assert cfg["store"] == f"postgres://postgres@127.0.0.1:{postgres_server.port}/{store.database}"
    assert cfg["llm"]["budgets"] == [{"team": "growth", "usd": "12.500000", "period": "month", "soft_alert_at": None, "webhook": None}]
    assert cfg["llm"]["ledger"] is True and cfg["llm"]["cache"] is None
