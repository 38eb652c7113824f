"""OTLP traces: the real binary exports server spans over OTLP/HTTP (protobuf) to a small
receiver started here, continuing the caller's W3C traceparent and passing its own upstream."""
import json
import os
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest, ExportTraceServiceResponse

from conftest import request, service, wait_for


class OTLPReceiver:
    def __init__(self):
        self.spans = []
        self.content_types = set()
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                if self.path != "/v1/traces":
                    self.send_response(404)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                export = ExportTraceServiceRequest()
                export.ParseFromString(body)
                with receiver.lock:
                    receiver.content_types.add(self.headers.get("Content-Type"))
                    for rs in export.resource_spans:
                        resource = {a.key: a.value.string_value for a in rs.resource.attributes}
                        for ss in rs.scope_spans:
                            for s in ss.spans:
                                attrs = {}
                                for a in s.attributes:
                                    v = a.value
                                    attrs[a.key] = v.string_value if v.HasField("string_value") else v.int_value
                                receiver.spans.append({"name": s.name, "trace_id": s.trace_id.hex(), "span_id": s.span_id.hex(),
                                                       "parent_span_id": s.parent_span_id.hex(), "kind": s.kind,
                                                       "status": s.status.code, "attributes": attrs, "resource": resource})
                out = ExportTraceServiceResponse().SerializeToString()
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def find(self, predicate):
        with self.lock:
            return [s for s in self.spans if predicate(s)]

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def test_spans_continue_traceparent_and_reach_the_collector(gateway, upstreams):
    up = upstreams()
    otlp = OTLPReceiver()
    try:
        gw = gateway(f"""telemetry:
  traces: {{ endpoint: "{otlp.url}", batch_delay: 100ms, service_name: edge-gw }}
services:
  - {{ name: api, upstream: {{ targets: [{{ url: {up.url} }}] }}, routes: [{{ name: api-route, paths: [/api] }}] }}
""")
        trace_id = os.urandom(16).hex()
        parent = os.urandom(8).hex()
        status, _, body = request(gw.port, "GET", "/api/echo?q=1", headers={"traceparent": f"00-{trace_id}-{parent}-01"})
        assert status == 200
        passed_on = json.loads(body)["headers"]["traceparent"]
        version, seen_trace, seen_parent, flags = passed_on.split("-")
        assert seen_trace == trace_id and seen_parent != parent and flags == "01"

        spans = wait_for("the span at the collector", lambda: otlp.find(lambda s: s["trace_id"] == trace_id))
        span = spans[0]
        assert span["parent_span_id"] == parent
        assert span["span_id"] == seen_parent  # the upstream's parent is the gateway's span
        assert span["name"] == "GET api-route"
        assert span["kind"] == 2  # SPAN_KIND_SERVER
        assert span["attributes"]["http.response.status_code"] == 200
        assert span["attributes"]["http.route"] == "api-route"
        assert span["attributes"]["url.path"] == "/api/echo"  # no query string
        assert span["resource"]["service.name"] == "edge-gw"
        assert otlp.content_types == {"application/x-protobuf"}

        # Without a traceparent, a new trace starts; a 404 gets a span too, marked as no route.
        assert request(gw.port, "GET", "/nowhere")[0] == 404
        wait_for("the 404 span", lambda: otlp.find(lambda s: s["attributes"].get("http.response.status_code") == 404
                                                    and s["parent_span_id"] == ""))
    finally:
        otlp.stop()


def test_collector_down_does_not_disturb_requests(gateway, upstreams):
    up = upstreams()
    otlp = OTLPReceiver()
    url = otlp.url
    otlp.stop()
    gw = gateway(f"""telemetry:
  traces: {{ endpoint: "{url}", batch_delay: 50ms }}
services:
""" + service("api", up.url, ["/api"]))
    for _ in range(20):
        assert request(gw.port, "GET", "/api/x")[0] == 200
    # Shutdown gives the exporter a bounded time to flush, then exits cleanly.
    import time
    started = time.monotonic()
    gw.stop()
    assert gw.proc.returncode == 0 and time.monotonic() - started < 10


def test_llm_calls_get_gen_ai_span_attributes(gateway, tmp_path):
    from fakeproviders import FakeProvider
    from test_ai_gate import deployment, write_providers
    provider = FakeProvider("p")
    otlp = OTLPReceiver()
    try:
        providers = write_providers(tmp_path)
        gw = gateway(f"""telemetry:
  traces: {{ endpoint: "{otlp.url}", batch_delay: 100ms }}
llm:
  providers_dir: {providers}
  models:
    - {{ name: smart, deployments: [{deployment('fake-anthropic', 'claude-sonnet-4-5', provider)}] }}
""")
        trace_id = os.urandom(16).hex()
        status, _, _ = request(gw.port, "POST", "/v1/chat/completions", body=json.dumps(
            {"model": "smart", "messages": [{"role": "user", "content": "hi"}]}).encode(),
            headers={"content-type": "application/json", "traceparent": f"00-{trace_id}-{os.urandom(8).hex()}-01"})
        assert status == 200
        span = wait_for("the span", lambda: otlp.find(lambda s: s["trace_id"] == trace_id))[0]
        a = span["attributes"]
        assert span["name"] == "POST chat_completions"
        assert a["gen_ai.request.model"] == "smart" and a["gen_ai.response.model"] == "claude-sonnet-4-5"
        assert a["gen_ai.system"] == "fake-anthropic" and a["gen_ai.usage.input_tokens"] > 0 and a["gen_ai.usage.output_tokens"] > 0
        # The provider's call carries the trace on.
        assert provider.requests[-1]["headers"]["traceparent"].split("-")[1] == trace_id
    finally:
        otlp.stop()
        provider.stop()
