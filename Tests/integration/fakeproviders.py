"""Fake LLM providers for the integration tests, on 127.0.0.1 and a free port, optionally TLS.

One server speaks three real wire formats, chosen by path as the real services do:
  OpenAI     POST /v1/chat/completions, /v1/completions, /v1/embeddings
             (Azure: /openai/deployments/{name}/chat/completions?api-version=...)
  Anthropic  POST /v1/messages, /v1/messages/count_tokens
  Gemini     POST /v1beta/models/{model}:generateContent, :streamGenerateContent?alt=sse

Answers are deterministic: "Hello from {provider} {model}: {last user text}", streamed word by
word, with usage; a request offering tools whose last user text mentions "weather" gets a call
to the first tool with {"city": "Paris"}. Streams end the way each provider ends them (OpenAI:
a usage chunk when asked, then [DONE]; Anthropic: message_delta with usage, message_stop;
Gemini: a finishReason and usageMetadata).

A script of behaviours, consumed one per request, makes it misbehave:
  {"status": 429, "headers": {"retry-after": "0"}}   an error in the provider's own format
  {"status": 400, "message": "...", "code": "..."}   (400 context_length_exceeded, 529, 500, ...)
  {"stall": 5}                                      wait before answering anything
  {"cut_after": 2}                                  stream 2 events, then drop the connection
  {"slow": 0.05}                                    wait between stream events
  {"stream_error": 1}                               stream 1 event, then an error event
  {"usage": {"completion_tokens": -5}}              these usage numbers instead of the true ones
Every request is recorded (path, headers, JSON body) for assertions.
"""
import json
import socket
import ssl
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlparse

WORDS_PER_CHUNK = 1


class FakeProvider:
    def __init__(self, name="fake", tls=None):
        self.name = name
        self.script = []
        self.requests = []
        # Embeddings by input text, for the semantic cache's tests; other texts get a vector of
        # their own (from their hash) once any is set.
        self.vectors = {}
        # Scripted chat answers (see openai_chat), consumed by chat completions only.
        self.chat_overrides = []
        self.lock = threading.Lock()
        provider = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def setup(self):
                super().setup()
                self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

            def log_message(self, *args):
                pass

            def do_POST(self):
                length = int(self.headers.get("content-length", "0"))
                raw = self.rfile.read(length)
                try:
                    body = json.loads(raw) if raw else {}
                except ValueError:
                    body = None
                url = urlparse(self.path)
                with provider.lock:
                    provider.requests.append({"path": url.path, "query": url.query,
                                              "headers": {k.lower(): v for k, v in self.headers.items()}, "json": body,
                                              "raw": raw})
                    step = provider.script.pop(0) if provider.script else {}
                provider.handle(self, url, body, step)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        if tls:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(tls[0], tls[1])
            self.server.socket = ctx.wrap_socket(self.server.socket, server_side=True)
        self.port = self.server.server_address[1]
        scheme = "https" if tls else "http"
        self.base = f"{scheme}://127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()

    def then(self, *steps):
        with self.lock:
            self.script.extend(steps)
        return self

    def calls(self, path_part=""):
        with self.lock:
            return [r for r in self.requests if path_part in r["path"]]

    # -- answering ---------------------------------------------------------------------------

    def handle(self, h, url, body, step):
        path = url.path
        if body is None:
            return self.error(h, "openai", 400, "could not parse JSON body")
        style = "anthropic" if path.startswith("/v1/messages") else "gemini" if path.startswith("/v1beta/") else "openai"
        if "stall" in step:
            time.sleep(step["stall"])
        if "status" in step:
            return self.error(h, style, step["status"], step.get("message", f"scripted {step['status']}"),
                              step.get("code"), step.get("headers", {}))
        if style == "openai":
            if path.endswith("/embeddings"):
                return self.embeddings(h, body)
            if path.endswith("/completions") and not path.endswith("/chat/completions"):
                return self.legacy_completion(h, body)
            model = body.get("model", "?")
            if "/openai/deployments/" in path:
                model = path.split("/openai/deployments/")[1].split("/")[0]
            return self.openai_chat(h, body, model, step)
        if style == "anthropic":
            if path.endswith("/count_tokens"):
                return self.json(h, 200, {"input_tokens": count_tokens(body.get("messages", []))})
            return self.anthropic(h, body, step)
        model = path.split("/models/")[1].split(":")[0]
        return self.gemini(h, body, model, path.endswith(":streamGenerateContent"), step)

    def json(self, h, status, obj, headers=None):
        data = json.dumps(obj).encode()
        h.send_response(status)
        h.send_header("content-type", "application/json")
        h.send_header("content-length", str(len(data)))
        for k, v in (headers or {}).items():
            h.send_header(k, v)
        h.end_headers()
        h.wfile.write(data)

    def error(self, h, style, status, message, code=None, headers=None):
        if style == "anthropic":
            kind = {400: "invalid_request_error", 401: "authentication_error", 429: "rate_limit_error",
                    529: "overloaded_error"}.get(status, "api_error")
            obj = {"type": "error", "error": {"type": kind, "message": message}}
        elif style == "gemini":
            obj = {"error": {"code": status, "message": message,
                             "status": {429: "RESOURCE_EXHAUSTED", 400: "INVALID_ARGUMENT"}.get(status, "INTERNAL")}}
        else:
            kind = {429: "requests", 400: "invalid_request_error"}.get(status, "server_error")
            obj = {"error": {"message": message, "type": kind, "param": None, "code": code}}
        self.json(h, status, obj, headers)

    def start_stream(self, h):
        h.send_response(200)
        h.send_header("content-type", "text/event-stream")
        h.send_header("transfer-encoding", "chunked")
        h.end_headers()

    def send_chunk(self, h, data):
        b = data if isinstance(data, bytes) else data.encode()
        h.wfile.write(f"{len(b):x}\r\n".encode() + b + b"\r\n")
        h.wfile.flush()

    def end_stream(self, h):
        h.wfile.write(b"0\r\n\r\n")
        h.wfile.flush()

    def run_stream(self, h, events, step, error_event):
        """Writes SSE events, misbehaving as the step says."""
        self.start_stream(h)
        for i, e in enumerate(events):
            if "cut_after" in step and i == step["cut_after"]:
                h.connection.shutdown(socket.SHUT_RDWR)
                h.close_connection = True
                return
            if "stream_error" in step and i == step["stream_error"]:
                self.send_chunk(h, error_event)
                self.end_stream(h)
                return
            if "slow" in step and i > 0:
                time.sleep(step["slow"])
            self.send_chunk(h, e)
        self.end_stream(h)

    def openai_chat(self, h, body, model, step):
        # A misbehaving provider, on command (chat answers only; embeddings do not consume it):
        # {"body": {...}} answers that object with 200 as it is; {"finish": "content_filter"}
        # ends the answer so; {"raw_content": b"..."} streams those bytes as one content delta;
        # {"model": "..."} names another model in the answer.
        with self.lock:
            override = self.chat_overrides.pop(0) if self.chat_overrides else {}
        if "body" in override:
            return self.json(h, 200, override["body"])
        text, call = answer(self.name, model, body.get("messages", []), body.get("tools"))
        model = override.get("model", model)  # {"model": ...}: answers as another model
        prompt = count_tokens(body.get("messages", []))
        words = text.split(" ")
        usage = {"prompt_tokens": prompt, "completion_tokens": len(words), "total_tokens": prompt + len(words),
                 "prompt_tokens_details": {"cached_tokens": 0}}
        usage.update(step.get("usage", {}))  # a hostile provider's numbers, when scripted
        cid = "chatcmpl-fake123"
        if not body.get("stream"):
            message = {"role": "assistant", "content": None if call else text, "refusal": None}
            if call:
                message["tool_calls"] = [{"id": "call_1", "type": "function",
                                          "function": {"name": call, "arguments": json.dumps({"city": "Paris"})}}]
            return self.json(h, 200, {"id": cid, "object": "chat.completion", "created": int(time.time()), "model": model,
                                      "choices": [{"index": 0, "message": message, "logprobs": None,
                                                   "finish_reason": override.get("finish", "tool_calls" if call else "stop")}],
                                      "usage": usage, "system_fingerprint": "fp_fake"},
                             {"openai-processing-ms": "1", "x-ratelimit-remaining-requests": "99"})
        include = (body.get("stream_options") or {}).get("include_usage")

        def chunk(delta, finish=None):
            c = {"id": cid, "object": "chat.completion.chunk", "created": 1, "model": model, "system_fingerprint": "fp_fake",
                 "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}]}
            if include:
                c["usage"] = None
            return "data: " + json.dumps(c) + "\n\n"

        events = [chunk({"role": "assistant", "content": ""})]
        if call:
            events.append(chunk({"tool_calls": [{"index": 0, "id": "call_1", "type": "function",
                                                 "function": {"name": call, "arguments": ""}}]}))
            events.append(chunk({"tool_calls": [{"index": 0, "function": {"arguments": "{\"city\": "}}]}))
            events.append(chunk({"tool_calls": [{"index": 0, "function": {"arguments": "\"Paris\"}"}}]}))
        else:
            for i, w in enumerate(words):
                events.append(chunk({"content": (" " if i else "") + w}))
        if "raw_content" in override:
            # Bytes that are not UTF-8 inside the JSON string: what the caller receives as sent.
            events.append(chunk({"content": "RAW"}).encode().replace(b"RAW", override["raw_content"]))
        events.append(chunk({}, override.get("finish", "tool_calls" if call else "stop")))
        if include:
            events.append("data: " + json.dumps({"id": cid, "object": "chat.completion.chunk", "created": 1, "model": model,
                                                 "choices": [], "usage": usage}) + "\n\n")
        events.append("data: [DONE]\n\n")
        err = "data: " + json.dumps({"error": {"message": "scripted stream failure", "type": "server_error"}}) + "\n\n"
        self.run_stream(h, events, step, err)

    def embeddings(self, h, body):
        inputs = body.get("input")
        inputs = inputs if isinstance(inputs, list) else [inputs]
        def vector(i, text):
            if text in self.vectors:
                return self.vectors[text]
            if self.vectors:
                import hashlib
                digest = hashlib.sha256(str(text).encode()).digest()
                return [b / 255 - 0.5 for b in digest[:8]]
            return [0.1 * (i + 1), 0.2, 0.3]
        data = [{"object": "embedding", "index": i, "embedding": vector(i, x)} for i, x in enumerate(inputs)]
        n = sum(len(str(x).split()) for x in inputs)
        self.json(h, 200, {"object": "list", "data": data, "model": body.get("model"),
                           "usage": {"prompt_tokens": n, "total_tokens": n}})

    def legacy_completion(self, h, body):
        text = f"Hello from {self.name} {body.get('model')}: {body.get('prompt')}"
        self.json(h, 200, {"id": "cmpl-fake", "object": "text_completion", "created": 1, "model": body.get("model"),
                           "choices": [{"text": text, "index": 0, "logprobs": None, "finish_reason": "stop"}],
                           "usage": {"prompt_tokens": 3, "completion_tokens": 5, "total_tokens": 8}})

    def anthropic(self, h, body, step):
        model = body.get("model", "?")
        msgs = [{"role": m["role"], "content": m["content"]} for m in body.get("messages", [])]
        text, call = answer(self.name, model, msgs, body.get("tools"))
        if isinstance(body.get("system"), str) and body["system"]:
            text += f" [system: {body['system']}]"
        words = text.split(" ")
        prompt = count_tokens(body.get("messages", []))
        mid = "msg_fake123"
        if not body.get("stream"):
            content = [{"type": "tool_use", "id": "toolu_1", "name": call, "input": {"city": "Paris"}}] if call else \
                [{"type": "text", "text": text}]
            return self.json(h, 200, {"id": mid, "type": "message", "role": "assistant", "model": model, "content": content,
                                      "stop_reason": "tool_use" if call else "end_turn", "stop_sequence": None,
                                      "usage": {"input_tokens": prompt, "output_tokens": len(words),
                                                "cache_read_input_tokens": 0, "cache_creation_input_tokens": 0,
                                                **step.get("usage", {})}})

        def ev(name, obj):
            return f"event: {name}\ndata: {json.dumps(obj)}\n\n"

        events = [ev("message_start", {"type": "message_start", "message": {
            "id": mid, "type": "message", "role": "assistant", "model": model, "content": [], "stop_reason": None,
            "stop_sequence": None, "usage": {"input_tokens": prompt, "output_tokens": 1}}}),
            ev("ping", {"type": "ping"})]
        if call:
            events.append(ev("content_block_start", {"type": "content_block_start", "index": 0, "content_block": {
                "type": "tool_use", "id": "toolu_1", "name": call, "input": {}}}))
            for part in ["{\"city\": ", "\"Paris\"}"]:
                events.append(ev("content_block_delta", {"type": "content_block_delta", "index": 0,
                                                         "delta": {"type": "input_json_delta", "partial_json": part}}))
        else:
            events.append(ev("content_block_start", {"type": "content_block_start", "index": 0,
                                                     "content_block": {"type": "text", "text": ""}}))
            for i, w in enumerate(words):
                events.append(ev("content_block_delta", {"type": "content_block_delta", "index": 0,
                                                         "delta": {"type": "text_delta", "text": (" " if i else "") + w}}))
        events.append(ev("content_block_stop", {"type": "content_block_stop", "index": 0}))
        events.append(ev("message_delta", {"type": "message_delta", "delta": {
            "stop_reason": "tool_use" if call else "end_turn", "stop_sequence": None},
            "usage": {"output_tokens": len(words), **step.get("usage", {})}}))
        events.append(ev("message_stop", {"type": "message_stop"}))
        err = ev("error", {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}})
        self.run_stream(h, events, step, err)

    def gemini(self, h, body, model, stream, step):
        msgs = []
        for c in body.get("contents", []):
            texts = [p.get("text", "") for p in c.get("parts", []) if "text" in p]
            msgs.append({"role": "user" if c.get("role") == "user" else "assistant", "content": " ".join(texts)})
        tools = [{"function": d} for t in body.get("tools", []) for d in t.get("functionDeclarations", [])]
        text, call = answer(self.name, model, msgs, tools or None)
        words = text.split(" ")
        usage = {"promptTokenCount": count_tokens(msgs), "candidatesTokenCount": len(words),
                 "totalTokenCount": count_tokens(msgs) + len(words)}
        parts = [{"functionCall": {"name": call, "args": {"city": "Paris"}}}] if call else [{"text": text}]
        if not stream:
            return self.json(h, 200, {"candidates": [{"content": {"role": "model", "parts": parts}, "finishReason": "STOP",
                                                      "index": 0}], "usageMetadata": usage, "modelVersion": model,
                                      "responseId": "gem123"})
        events = []
        pieces = [[{"functionCall": {"name": call, "args": {"city": "Paris"}}}]] if call else \
            [[{"text": (" " if i else "") + w}] for i, w in enumerate(words)]
        for i, p in enumerate(pieces):
            last = i == len(pieces) - 1
            cand = {"content": {"role": "model", "parts": p}, "index": 0}
            if last:
                cand["finishReason"] = "STOP"
            obj = {"candidates": [cand], "modelVersion": model, "responseId": "gem123"}
            if last:
                obj["usageMetadata"] = usage
            events.append("data: " + json.dumps(obj) + "\r\n\r\n")
        err = "data: " + json.dumps({"error": {"code": 500, "message": "scripted stream failure", "status": "INTERNAL"}}) + "\r\n\r\n"
        self.run_stream(h, events, step, err)


def last_user_text(messages):
    for m in reversed(messages):
        if m.get("role") == "user":
            c = m.get("content")
            if isinstance(c, str):
                return c
            if isinstance(c, list):
                return " ".join(p.get("text", "") for p in c if isinstance(p, dict) and p.get("type") == "text")
    return ""


def answer(provider, model, messages, tools):
    """The deterministic answer: text, or the name of a tool to call."""
    text = last_user_text(messages)
    if tools and "weather" in text:
        return "", tools[0]["function"]["name"] if "function" in tools[0] else tools[0]["name"]
    return f"Hello from {provider} {model}: {text}", None


def count_tokens(messages):
    return sum(len(json.dumps(m.get("content", "")).split()) for m in messages) + 3
