"""A provider that answers with another model than it was asked for: said, counted, and billed
as what was served when that model is priced."""
import sqlite3

from conftest import request, wait_for
from test_ai_gate import add_keys, deployment, llm_config


def test_an_answer_from_another_model_is_logged_counted_and_billed_as_served(gateway, fake, tmp_path):
    p = fake("p")
    config = llm_config(tmp_path, f"    - {{ name: smart, deployments: [{deployment('fake-openai', 'gpt-4o', p)}] }}")
    # gpt-4o-mini costs a tenth of gpt-4o here.
    providers = tmp_path / "providers" / "fake-openai.yaml"
    text = providers.read_text()
    mini = text.index("  gpt-4o-mini:")
    providers.write_text(text[:mini] + text[mini:].replace("input: 1.00, output: 2.00", "input: 0.10, output: 0.20", 1))
    g = gateway(config)
    add_keys(g)
    p.chat_overrides += [{}, {"model": "gpt-4o-2024-08-06"}, {"model": "gpt-4o-mini"}, {"model": "evil-model"}]
    for n in range(4):
        r = g.oai.chat.completions.with_raw_response.create(model="smart", messages=[{"role": "user", "content": "one two three"}])
        assert r.status_code == 200
    db = tmp_path / "keys.db"

    def rows():
        with sqlite3.connect(db) as c:
            return c.execute("SELECT served_model, input_tokens, output_tokens, cost_micros FROM ledger ORDER BY id").fetchall()
    wait_for("the ledger", lambda: len(rows()) == 4)
    (asked, i0, o0, c0), (dated, _, _, c1), (cheap, i2, o2, c2), (unknown, i3, o3, c3) = rows()
    assert asked == "gpt-4o" and dated == "gpt-4o" and c1 == c0  # a dated snapshot is the model asked
    assert cheap == "gpt-4o-mini" and c2 < c0 and c2 == round((i2 * 0.10 + o2 * 0.20))  # billed as served
    assert unknown == "evil-model" and c3 == i3 * 1 + o3 * 2  # unpriced: billed as asked, but named
    metrics = request(g.admin_port, "GET", "/metrics")[2].decode()
    line = next(l for l in metrics.splitlines() if l.startswith("triplegate_llm_served_model_mismatches_total{"))
    assert line.endswith(" 2") and 'gen_ai_response_model="gpt-4o"' in line  # labels from config, never from answers
    assert g.logs().count("a provider answered with another model than asked") == 2
