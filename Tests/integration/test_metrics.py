"""Prometheus text at the admin listener's /metrics, with bounded labels."""
import re

from conftest import request


def value(text, name, **labels):
    """The sample of `name` whose labels include `labels`."""
    for line in text.splitlines():
        if line.startswith("#") or not line.startswith(name):
            continue
        m = re.match(r'([a-z_]+)(?:\{(.*)\})? (\S+)$', line)
        if not m or m.group(1) != name:
            continue
        got = dict(re.findall(r'(\w+)="([^"]*)"', m.group(2) or ""))
        if all(got.get(k) == v for k, v in labels.items()):
            return float(m.group(3))
    return None


def test_requests_limits_auth_and_reloads_are_counted(gateway, upstreams, tmp_path):
    up = upstreams()
    gw = gateway(f"""store: sqlite:{tmp_path / 'k.db'}
consumers: [{{ name: a, groups: [g] }}]
services:
  - name: api
    upstream: {{ targets: [{{ url: {up.url} }}] }}
    policies: [{{ rate_limit: {{ minute: 2 }} }}]
    routes: [{{ name: items, paths: [/items] }}]
  - name: private
    upstream: {{ targets: [{{ url: {up.url} }}] }}
    policies: [{{ key_auth: {{}} }}]
    routes: [{{ name: secret, paths: [/secret] }}]
""")
    for _ in range(3):
        request(gw.port, "GET", "/items/1?user=42")
    request(gw.port, "GET", "/secret")
    request(gw.port, "GET", "/secret", headers={"X-Api-Key": "tg-wrong"})
    request(gw.port, "GET", "/unknown/path")
    status, headers, body = request(gw.admin_port, "GET", "/metrics")
    assert status == 200 and headers["content-type"].startswith("text/plain")
    text = body.decode()
    assert value(text, "http_server_request_duration_seconds_count", http_route="items", status_class="2xx") == 2
    assert value(text, "http_server_request_duration_seconds_count", http_route="items", status_class="4xx") == 1
    assert value(text, "http_server_request_duration_seconds_count", http_route="secret", status_class="4xx") == 2
    assert value(text, "http_server_request_duration_seconds_count", http_route="-", status_class="4xx") == 1
    assert value(text, "triplegate_upstream_duration_seconds_count", http_route="items") == 2
    assert value(text, "triplegate_limiter_decisions_total", route="items", decision="allowed") == 2
    assert value(text, "triplegate_limiter_decisions_total", route="items", decision="refused") == 1
    assert value(text, "triplegate_auth_failures_total", reason="missing_credentials") == 1
    assert value(text, "triplegate_auth_failures_total", reason="invalid_credentials") == 1
    assert value(text, "triplegate_active_connections") is not None
    # Bounded cardinality: no raw paths, query strings or consumer ids in any label.
    assert "/items/1" not in text and "user=42" not in text and "/unknown" not in text


def test_config_reloads_are_counted(gateway, upstreams):
    import os
    from conftest import wait_for
    up = upstreams()
    gw = gateway(f"services:\n  - {{ name: s, upstream: {{ targets: [{{ url: {up.url} }}] }}, routes: [{{ paths: [/] }}] }}\n")
    tmp = gw.config.with_suffix(".tmp")
    tmp.write_text("services: [{ name: s }]\n")
    os.replace(tmp, gw.config)
    wait_for("refused reload counted", lambda: value(request(gw.admin_port, "GET", "/metrics")[2].decode(),
                                                     "triplegate_config_reloads_total", result="refused") == 1)
