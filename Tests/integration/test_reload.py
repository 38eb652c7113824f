"""Config edits apply while serving, invalid edits are refused, and reloads under load fail
no request."""
import json
import os
import threading

from conftest import request, service, wait_for


def routed_to(gw, path):
    status, _, body = request(gw.port, "GET", path)
    return json.loads(body).get("upstream") if status == 200 else status


def write(gw, text):
    # Write then rename, as editors and config managers do: the watcher never sees half a file.
    tmp = gw.config.with_suffix(".tmp")
    tmp.write_text(text)
    os.replace(tmp, gw.config)


def test_an_edit_applies_without_restart(gateway, upstreams):
    a, b = upstreams("a"), upstreams("b")
    gw = gateway("services:\n" + service("s", a.url, ["/"]))
    pid = gw.proc.pid
    assert routed_to(gw, "/x") == "a"
    write(gw, "services:\n" + service("s", b.url, ["/"]) + service("new", a.url, ["/new"]))
    wait_for("the edit to apply", lambda: routed_to(gw, "/x") == "b")
    assert routed_to(gw, "/new/y") == "a"
    assert gw.proc.pid == pid and gw.proc.poll() is None
    cfg = json.loads(request(gw.admin_port, "GET", "/admin/config")[2])
    assert [s["name"] for s in cfg["services"]] == ["s", "new"]


def test_an_invalid_edit_is_refused_and_the_old_config_keeps_serving(gateway, upstreams):
    a = upstreams("a")
    gw = gateway("services:\n" + service("s", a.url, ["/"]))
    write(gw, "services:\n  - { name: s, upstream: { targets: [{ url: 'ftp://x' }] }, routes: [{ paths: [nope] }] }\n")
    wait_for("the refusal to be logged", lambda: "config reload refused" in gw.logs())
    line = next(l for l in gw.logs().splitlines() if "config reload refused" in l)
    entry = json.loads(line)
    assert entry["level"] == "error"
    assert any("services[0].upstream.targets[0].url" in p for p in entry["problems"])
    assert any("services[0].routes[0].paths[0]" in p for p in entry["problems"])
    assert routed_to(gw, "/x") == "a"


def test_sighup_reloads(gateway, upstreams):
    import signal
    a, b = upstreams("a"), upstreams("b")
    gw = gateway("reload: { watch: false }\nservices:\n" + service("s", a.url, ["/"]))
    gw.config.write_text("reload: { watch: false }\nservices:\n" + service("s", b.url, ["/"]))
    gw.proc.send_signal(signal.SIGHUP)
    wait_for("SIGHUP reload", lambda: routed_to(gw, "/x") == "b")


def test_hundred_reloads_under_concurrent_load_fail_no_request(gateway, upstreams):
    a, b = upstreams("a"), upstreams("b")
    configs = ["reload: { interval: 100ms }\nservices:\n" + service("s", u.url, ["/"]) for u in (a, b)]
    gw = gateway(configs[0])
    stop = threading.Event()
    failures, done = [], [0]

    def load():
        import http.client
        c = http.client.HTTPConnection("127.0.0.1", gw.port, timeout=10)
        while not stop.is_set():
            try:
                c.request("POST", "/load", body=b"x" * 2000)
                r = c.getresponse()
                r.read()
                if r.status != 200:
                    failures.append(r.status)
                done[0] += 1
            except Exception as e:  # noqa: BLE001 - any failure counts
                failures.append(repr(e))
                c.close()
                c = http.client.HTTPConnection("127.0.0.1", gw.port, timeout=10)
        c.close()

    workers = [threading.Thread(target=load) for _ in range(4)]
    for w in workers:
        w.start()
    for i in range(100):
        write(gw, configs[(i + 1) % 2])
        expected = "b" if i % 2 == 0 else "a"
        wait_for(f"reload {i + 1}", lambda: routed_to(gw, "/probe") == expected)
    stop.set()
    for w in workers:
        w.join()
    assert failures == []
    assert done[0] > 100
    assert gw.logs().count("config reloaded") >= 100
