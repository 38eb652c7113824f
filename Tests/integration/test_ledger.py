"""The ledger and chargeback: every LLM call leaves one row, priced exactly from providers/, and
`triplegate chargeback` reports it; rows survive a graceful stop."""
import datetime
import json
import subprocess

from conftest import BIN
from test_ai_gate import add_keys, deployment, llm_config


def chargeback(g, *args):
    today = datetime.datetime.now(datetime.timezone.utc).date()
    out = subprocess.run([BIN, "chargeback", "--config", str(g.config), "--from", str(today),
                          "--to", str(today + datetime.timedelta(days=1)), *args], capture_output=True, timeout=30)
    assert out.returncode == 0, out.stderr
    return out.stdout.decode()  # bytes as written: CSV lines end in CRLF (RFC 4180)


def test_every_call_is_billed_once_and_reported(gateway, fake, tmp_path):
    p = fake("p")
    g = gateway(llm_config(tmp_path, "\n".join([
        f"    - {{ name: smart, deployments: [{deployment('fake-openai', 'gpt-4o', p)}] }}",
        f"    - {{ name: claude, deployments: [{deployment('fake-anthropic', 'claude-sonnet-4-5', p)}] }}",
    ])))
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
