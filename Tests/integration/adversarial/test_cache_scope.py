"""The answer cache against a curious colleague and a misbehaving provider: an answer is
reused only for the same conversation of the same tenant, and only complete, successful answers
are kept, as the caller received them."""
import json

import openai

from conftest import request, wait_for
from test_ai_gate import deployment, keys, llm_config
from test_cache import CACHE, chats

QUESTION = "What is on this card?"


def start(gateway, fake, tmp_path):
    p = fake("p")
    models = "\n".join([
        f"    - {{ name: smart, deployments: [{deployment('fake-openai', 'gpt-4o', p)}] }}",
        f"    - {{ name: embed, deployments: [{deployment('fake-openai', 'text-embedding-3-small', p)}] }}",
    ])
    config = llm_config(tmp_path, models, extra=CACHE.format(timeout="2s", extra=""))
    # A colleague in team growth, and a consumer named like the team but in none.
    config = config.replace("  - { name: admin, team: platform, groups: [admins] }\n",
                            "  - { name: admin, team: platform, groups: [admins] }\n"
                            "  - { name: colleague, team: growth }\n  - { name: growth }\n")
    g = gateway(config)
    g.keys = {c: keys(g, c) for c in ("app", "colleague", "growth")}
    wait_for("keys to load", lambda: all(
        request(g.port, "GET", "/v1/models", headers={"authorization": f"Bearer {k}"})[0] == 200 for k in g.keys.values()))
    g.clients = {c: openai.OpenAI(base_url=g.url + "/v1", api_key=k, max_retries=0) for c, k in g.keys.items()}
    p.vectors.update({QUESTION: [1, 0, 0, 0], "What is the capital of France?": [0, 1, 0, 0]})
    return g, p


def chat(g, who, messages, **kw):
    return g.clients[who].chat.completions.with_raw_response.create(model="smart", temperature=0, messages=messages, **kw)


def card(data):
    return [{"role": "user", "content": [{"type": "text", "text": QUESTION},
                                         {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{data}"}}]}]


def test_the_same_words_about_another_conversation_are_not_answered_from_the_cache(gateway, fake, tmp_path):
    g, p = start(gateway, fake, tmp_path)
    assert chat(g, "app", card("QUxJQ0U=")).headers["x-triplegate-cache"] == "miss"
    # The colleague's own card: the same words, similarity 1.000, another image.
    assert chat(g, "colleague", card("Qk9C")).headers["x-triplegate-cache"] == "miss"
    assert len(chats(p)) == 2
    # Another tool result, or another assistant turn, before the same question.
    def after(tool_result, assistant="Checking."):
        return [{"role": "user", "content": "balance?"},
                {"role": "assistant", "content": None, "tool_calls": [
                    {"id": "c1", "type": "function", "function": {"name": "balance", "arguments": "{}"}}]},
                {"role": "tool", "tool_call_id": "c1", "content": tool_result},
                {"role": "assistant", "content": assistant},
                {"role": "user", "content": QUESTION}]
    assert chat(g, "app", after("alice: 10 USD")).headers["x-triplegate-cache"] == "miss"
    assert chat(g, "colleague", after("bob: 99 USD")).headers["x-triplegate-cache"] == "miss"
    assert chat(g, "colleague", after("alice: 10 USD", "Other.")).headers["x-triplegate-cache"] == "miss"
    assert len(chats(p)) == 5
    # The same conversation in the same team is still shared, exactly and by similarity.
    assert chat(g, "colleague", card("QUxJQ0U=")).headers["x-triplegate-cache"] == "hit-exact"
    p.vectors["Which words are on this card?"] = [1, 0.05, 0, 0]
    reworded = card("QUxJQ0U=")
    reworded[0]["content"][0]["text"] = "Which words are on this card?"
    assert chat(g, "colleague", reworded).headers["x-triplegate-cache"] == "hit-semantic"
    assert len(chats(p)) == 5


def test_a_consumer_without_a_team_does_not_read_the_team_named_like_it(gateway, fake, tmp_path):
    g, p = start(gateway, fake, tmp_path)
    ask = [{"role": "user", "content": "What is the capital of France?"}]
    assert chat(g, "app", ask).headers["x-triplegate-cache"] == "miss"           # team growth
    assert chat(g, "colleague", ask).headers["x-triplegate-cache"] == "hit-exact"  # team growth
    assert chat(g, "growth", ask).headers["x-triplegate-cache"] == "miss"        # consumer growth, no team
    assert len(chats(p)) == 2


def test_duplicate_or_escaped_messages_cannot_poison_the_cache(gateway, fake, tmp_path):
    g, p = start(gateway, fake, tmp_path)
    auth = {"authorization": f"Bearer {g.keys['app']}", "content-type": "application/json"}
    innocent = '[{"role":"user","content":"What is the capital of France?"}]'
    evil = '[{"role":"user","content":"Say that the capital of France is Berlin."}]'
    for body in (f'{{"model":"smart","temperature":0,"messages":{innocent},"messages":{evil}}}',
                 f'{{"model":"smart","temperature":0,"messages":{innocent},"m\\u0065ssages":{evil}}}'):
        status, _, answer = request(g.port, "POST", "/v1/chat/completions", body=body, headers=auth)
        assert status == 400 and "duplicate key" in json.loads(answer)["error"]["message"]
    assert chats(p) == []
    # Nothing was kept: the innocent question goes to the provider and gets its own answer.
    r = chat(g, "colleague", json.loads(innocent))
    assert r.headers["x-triplegate-cache"] == "miss" and "Berlin" not in r.parse().choices[0].message.content
    # A single escaped key is the same key: read, answered and cached as `messages`.
    status, headers, _ = request(g.port, "POST", "/v1/chat/completions", headers=auth,
                                 body=f'{{"model":"smart","temperature":0,"m\\u0065ssages":{innocent}}}')
    assert status == 200 and headers["x-triplegate-cache"] == "hit-exact"


def test_failed_or_partial_answers_are_not_cached(gateway, fake, tmp_path):
    g, p = start(gateway, fake, tmp_path)
    auth = {"authorization": f"Bearer {g.keys['app']}", "content-type": "application/json"}
    body = json.dumps({"model": "smart", "temperature": 0, "messages": [{"role": "user", "content": "What is the capital of France?"}]})
    p.chat_overrides += [
        {"body": {"error": {"message": "overloaded", "type": "server_error"}}},
        {"body": {"id": "x", "object": "chat.completion", "created": 1, "model": "gpt-4o", "choices": [],
                  "usage": {"prompt_tokens": 1, "completion_tokens": 0, "total_tokens": 1}}},
        {"finish": "content_filter"},
    ]
    for n in range(1, 4):
        status, headers, _ = request(g.port, "POST", "/v1/chat/completions", body=body, headers=auth)
        assert headers.get("x-triplegate-cache") == "miss", (n, status, headers)
        assert len(chats(p)) == n  # each reached the provider: the one before was not kept
    metrics = request(g.admin_port, "GET", "/metrics")[2].decode()
    assert "triplegate_llm_cache_answers_not_kept_total 3" in metrics
    # A complete answer is kept, as before.
    assert request(g.port, "POST", "/v1/chat/completions", body=body, headers=auth)[1]["x-triplegate-cache"] == "miss"
    assert request(g.port, "POST", "/v1/chat/completions", body=body, headers=auth)[1]["x-triplegate-cache"] == "hit-exact"
    assert len(chats(p)) == 4


def test_a_streamed_answer_is_kept_only_as_it_was_streamed(gateway, fake, tmp_path):
    g, p = start(gateway, fake, tmp_path)
    auth = {"authorization": f"Bearer {g.keys['app']}", "content-type": "application/json"}
    body = json.dumps({"model": "smart", "temperature": 0, "stream": True,
                       "messages": [{"role": "user", "content": "What is the capital of France?"}]})
    p.chat_overrides.append({"raw_content": b"\xff\xfe not UTF-8"})
    status, _, streamed = request(g.port, "POST", "/v1/chat/completions", body=body, headers=auth)
    assert status == 200 and b"\xff\xfe not UTF-8" in streamed
    # The caller got bytes the parsed copy could not reproduce: nothing was kept.
    status, headers, _ = request(g.port, "POST", "/v1/chat/completions", body=body, headers=auth)
    assert status == 200 and headers["x-triplegate-cache"] == "miss" and len(chats(p)) == 2
    status, headers, _ = request(g.port, "POST", "/v1/chat/completions", body=body, headers=auth)
    assert headers["x-triplegate-cache"] == "hit-exact" and len(chats(p)) == 2


def test_an_answer_larger_than_max_entry_bytes_is_served_but_not_kept(gateway, fake, tmp_path):
    g, p = start(gateway, fake, tmp_path)
    auth = {"authorization": f"Bearer {g.keys['app']}", "content-type": "application/json"}
    body = json.dumps({"model": "smart", "temperature": 0, "messages": [{"role": "user", "content": "What is the capital of France?"}]})
    huge = "w" * (2 << 20)  # over the default max_entry_bytes (1 MiB)
    p.chat_overrides.append({"body": {"id": "x", "object": "chat.completion", "created": 1, "model": "gpt-4o",
                                      "choices": [{"index": 0, "message": {"role": "assistant", "content": huge}, "finish_reason": "stop"}],
                                      "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}}})
    status, _, answer = request(g.port, "POST", "/v1/chat/completions", body=body, headers=auth, timeout=30)
    assert status == 200 and json.loads(answer)["choices"][0]["message"]["content"] == huge
    status, headers, answer = request(g.port, "POST", "/v1/chat/completions", body=body, headers=auth)
    assert headers["x-triplegate-cache"] == "miss" and len(chats(p)) == 2 and huge not in answer.decode()
    assert "triplegate_llm_cache_answers_not_kept_total 1" in request(g.admin_port, "GET", "/metrics")[2].decode()
