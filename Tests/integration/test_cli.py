"""The command line: `check`, the quick start, and graceful shutdown on SIGTERM."""
import json
import signal
import subprocess
import threading

from conftest import BIN, request, service, wait_for


def test_check_accepts_a_valid_file(tmp_path, upstreams):
    f = tmp_path / "ok.yaml"
    f.write_text("services:\n" + service("s", "http://127.0.0.1:9101", ["/api"]))
    out = subprocess.run([BIN, "check", str(f)], capture_output=True, text=True)
    assert out.returncode == 0
    assert "valid (1 service, 1 route)" in out.stdout


def test_check_reports_every_problem_with_its_path_and_exits_1(tmp_path):
    f = tmp_path / "bad.yaml"
    f.write_text("""services:
  - name: a
    upstream: { targets: [{ url: "ftp://h:1" }] }
    routes: [{ paths: [/ok, nope], burts: 3 }]
  - name: a
    upstream: { targets: [{ url: http://h:1, weight: -1 }] }
    routes: [{ paths: [/b] }]
""")
    out = subprocess.run([BIN, "check", str(f)], capture_output=True, text=True)
    assert out.returncode == 1
    lines = out.stderr.strip().splitlines()
    assert lines[0] == f"{f}: 5 problems"
    assert sorted(l.strip() for l in lines[1:]) == sorted([
        "services[0].routes[0].burts: unknown key",
        "services[1].upstream.targets[0].weight: must be >= 0 (got -1)",
        'services[0].upstream.targets[0].url: unsupported scheme "ftp" (use http or https) (got "ftp://h:1")',
        'services[0].routes[0].paths[1]: must start with "/" (or "=/" for exact, "~" for a regex) (got "nope")',
        'services[1].name: duplicates services[0].name "a"',
    ])


def test_quick_start_serves_the_builtin_echo_with_no_config(tmp_path):
    ready = tmp_path / "ready.json"
    p = subprocess.Popen([BIN, "serve", "--listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0", "--ready-file", str(ready)],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        info = wait_for("quick start", lambda: ready.exists() and json.loads(ready.read_text() or "null"))
        port = int(info["data"].rsplit(":", 1)[1])
        status, _, body = request(port, "POST", "/hello", body=b"hi")
        assert status == 200
        seen = json.loads(body)
        assert seen["uri"] == "/hello" and seen["body"] == "hi"
        admin = int(info["admin"].rsplit(":", 1)[1])
        assert request(admin, "GET", "/readyz")[0] == 200
        assert request(admin, "GET", "/healthz")[0] == 200
    finally:
        p.terminate()
        p.wait(10)


def test_sigterm_finishes_in_flight_requests_then_exits_0(gateway, upstreams):
    up = upstreams()
    gw = gateway("server: { shutdown_grace: 10s }\nservices:\n" + service("s", up.url, ["/"]))
    result = {}

    def slow():
        result["answer"] = request(gw.port, "GET", "/slow?ms=1500")

    t = threading.Thread(target=slow)
    t.start()
    wait_for("the slow request to reach the upstream", lambda: up.requests >= 1)
    gw.proc.send_signal(signal.SIGTERM)
    # New connections are refused once the listener closes.
    def refused():
        try:
            request(gw.port, "GET", "/new", timeout=1)
            return False
        except OSError:
            return True
    wait_for("the listener to close", refused)
    t.join()
    assert result["answer"][0] == 200
    assert gw.proc.wait(10) == 0


def test_admin_config_is_the_effective_config(gateway, upstreams):
    up = upstreams()
    gw = gateway("services:\n" + service("s", up.url, ["/"]))
    status, headers, body = request(gw.admin_port, "GET", "/admin/config")
    assert status == 200
    cfg = json.loads(body)
    assert cfg["services"][0]["upstream"]["timeouts"]["connect"] == "5s"  # defaults filled in
    assert cfg["services"][0]["upstream"]["retries"]["on"] == ["connect", "502", "503", "504"]
    assert request(gw.admin_port, "GET", "/nope")[0] == 404


def test_check_explain_prints_routes_and_policy_chains_in_run_order(tmp_path):
    f = tmp_path / "ex.yaml"
    f.write_text("""consumers: [{ name: ops, groups: [admin] }]
services:
  - name: admin-service
    upstream: { targets: [{ url: http://127.0.0.1:9104 }] }
    policies:
      - rate_limit: { by: consumer, minute: 100 }
      - acl: { allow: [admin] }
      - key_auth: {}
    routes: [{ name: admin, paths: [/admin-api, "=/health"], methods: [GET] }]
""")
    out = subprocess.run([BIN, "check", "--explain", str(f)], capture_output=True, text=True, cwd=tmp_path)
    assert out.returncode == 0
    assert "route admin (service admin-service)" in out.stdout
    assert "paths:    /admin-api (prefix), /health (exact)" in out.stdout
    # Written in the opposite order, run in phase order.
    assert "policies: key_auth (authenticate) -> acl (authorize) -> rate_limit (limit)" in out.stdout
    assert list(tmp_path.iterdir()) == [f]  # explaining opens no store and no log file


def test_check_explain_prints_the_ai_and_mcp_gates_in_their_own_words(tmp_path):
    f = tmp_path / "gates.yaml"
    f.write_text("""consumers: [{ name: ops, groups: [ml] }]
llm:
  policies: [rate_limit: { by: consumer, minute: 60 }, key_auth: {}]
  models:
    - name: smart
      routing: least_busy
      fallbacks: [backup]
      deployments: [{ provider: openai, model: gpt-4o, api_key: sk-hidden, base_url: "https://api.example/v1" }]
      policies: [acl: { allow: [ml] }]
    - name: backup
      deployments: [{ provider: anthropic, model: claude-sonnet-4-5, api_key: k }]
mcp:
  servers:
    - { name: files, command: [python3, files.py, --token, hidden] }
  virtual_servers: [{ name: dev, path: /mcp/dev, tools: ["files.*"] }]
  access: [{ groups: [ml], allow: ["files.read_*"], deny: [files.read_secrets] }]
  policies: [key_auth: {}, rate_limit: { by: [consumer, tool], minute: 30 }]
""")
    out = subprocess.run([BIN, "check", "--explain", str(f)], capture_output=True, text=True, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert "model smart (llm)" in out.stdout and "routing:     least_busy" in out.stdout
    assert "fallbacks:   backup on errors, context_window, content_policy" in out.stdout
    assert "policies:    key_auth (authenticate) -> rate_limit (limit) (every request), then acl (authorize) (this model)" in out.stdout
    assert "mcp /mcp (mcp)" in out.stdout and "endpoint:    /mcp/dev (dev): files.*" in out.stdout
    assert "access:      group ml: allow files.read_*; deny files.read_secrets" in out.stdout
    assert "policies:    key_auth (authenticate) (every request), then rate_limit (limit) (each tools/call)" in out.stdout
    # Credentials never show: not the provider key, nor a program's arguments.
    assert "hidden" not in out.stdout and "sk-" not in out.stdout


def test_check_and_serve_check_llm_deployments_against_the_provider_files(tmp_path, gateway):
    # No providers folder: the shipped providers, built into the binary, price the calls.
    good = tmp_path / "llm.yaml"
    good.write_text("""llm:
  models:
    - name: smart
      deployments: [{ provider: openai, model: gpt-4o, api_key: sk-test }]
""")
    out = subprocess.run([BIN, "check", str(good)], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert "1 model checked against 5 providers (shipped)" in out.stdout
    # Serving mounts the AI gate on /v1: a body without a model gets OpenAI's error format.
    gw = gateway(good.read_text())
    status, _, body = request(gw.port, "POST", "/v1/chat/completions", body=b"{}")
    assert status == 400 and json.loads(body)["error"]["type"] == "invalid_request_error"

    bad = tmp_path / "bad-llm.yaml"
    bad.write_text("""llm:
  models:
    - name: smart
      deployments: [{ provider: openai, model: gpt-5-imaginary, api_key: sk-test }]
""")
    out = subprocess.run([BIN, "check", str(bad)], capture_output=True, text=True)
    assert out.returncode == 1
    assert 'llm.models[0].deployments[0].model: openai lists no model "gpt-5-imaginary"' in out.stderr
    out = subprocess.run([BIN, "serve", "--config", str(bad), "--listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0"],
                         capture_output=True, text=True, timeout=30)
    assert out.returncode == 1 and "gpt-5-imaginary" in out.stderr


def test_check_reports_the_core_and_the_ai_gate_problems_in_one_run(tmp_path):
    bad = tmp_path / "both.yaml"
    bad.write_text("""server: { listen: "nowhere" }
llm:
  models:
    - name: smart
      deployments: [{ provider: openai, model: gpt-5-imaginary, api_key: sk-test }]
""")
    out = subprocess.run([BIN, "check", str(bad)], capture_output=True, text=True)
    assert out.returncode == 1
    assert f"{bad}: 2 problems" in out.stderr
    assert 'server.listen: must be host:port (got "nowhere")' in out.stderr
    assert 'llm.models[0].deployments[0].model: openai lists no model "gpt-5-imaginary"' in out.stderr


def test_a_providers_folder_adds_to_and_replaces_the_shipped_providers(tmp_path):
    folder = tmp_path / "providers"  # next to the config: read without naming it
    folder.mkdir()
    price = "prices: [{ effective_from: 2025-01-01, source: test, input: 0.5, output: 1 }]"
    (folder / "local.yaml").write_text(f"""name: local
api_style: openai
base_url: http://127.0.0.1:1/v1
models:
  llama-3-70b: {{ context_window: 8192, max_output_tokens: 2048, {price} }}
""")
    # A file of another name that names a shipped provider replaces it whole.
    (folder / "my-openai.yaml").write_text(f"""name: openai
api_style: openai
base_url: https://api.openai.com/v1
models:
  gpt-4o-custom: {{ context_window: 128000, max_output_tokens: 4096, {price} }}
""")
    cfg = tmp_path / "llm.yaml"
    def check(deployments, providers_dir=""):
        cfg.write_text(f"llm:\n{providers_dir}  models:\n    - {{ name: m, deployments: [{deployments}] }}\n")
        return subprocess.run([BIN, "check", str(cfg)], capture_output=True, text=True)

    out = check("{ provider: local, model: llama-3-70b, api_key: none }, { provider: openai, model: gpt-4o-custom, api_key: sk-1 }")
    assert out.returncode == 0, out.stderr
    assert "checked against 6 providers (shipped and 2 files of the providers folder)" in out.stdout
    out = check("{ provider: openai, model: gpt-4o, api_key: sk-1 }")
    assert out.returncode == 1 and 'openai lists no model "gpt-4o"' in out.stderr
    # The shipped Anthropic provider is still there.
    assert check("{ provider: anthropic, model: claude-sonnet-4-5, api_key: sk-1 }").returncode == 0

    # Two files naming one provider: which would win is not left to their file names.
    (folder / "zz-openai.yaml").write_text((folder / "my-openai.yaml").read_text())
    out = check("{ provider: local, model: llama-3-70b, api_key: none }")
    assert out.returncode == 1 and "zz-openai.yaml: name: openai is also the name in my-openai.yaml" in out.stderr

    # A folder named but missing is an error, not a silent fall back to the shipped providers.
    out = check("{ provider: openai, model: gpt-4o, api_key: sk-1 }", providers_dir="  providers_dir: nowhere\n")
    assert out.returncode == 1 and "the providers folder does not exist" in out.stderr
