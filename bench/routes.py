"""bench/routes's measurements (see bench/routes): start-up, reload and RSS against route count."""
import json, os, signal, socket, subprocess, sys, time

out, sizes, binaries = sys.argv[1], [int(s) for s in sys.argv[2].split(",")], sys.argv[3:]


def write_config(path, n):
    with open(path, "w") as f:
        f.write("reload: { watch: false }\nserver: { event_loops: 2 }\n")
        f.write("services:\n  - name: big\n    upstream: builtin:echo\n    routes:\n")
        for i in range(n):
            f.write(f"      - {{ name: r{i}, paths: [/api/v{i}/items], headers: {{ X-Tenant: [t{i}] }} }}\n")


def get(port, path, headers=""):
    """One HTTP/1.1 request on a fresh connection; returns the status code (0 if refused)."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
            s.sendall(f"GET {path} HTTP/1.1\r\nHost: bench\r\n{headers}Connection: close\r\n\r\n".encode())
            data = b""
            while chunk := s.recv(65536):
                data += chunk
            return int(data.split(b" ", 2)[1]) if data else 0
    except OSError:
        return 0


def mib(pid, field):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    return 0.0


DEADLINE = 600  # seconds any one wait may take (the old build needed 99 s for 10,000 routes)


def waited(since, what, log):
    if time.monotonic() - since > DEADLINE:
        raise SystemExit(f"{what} took over {DEADLINE} s; see {log.name}")
    time.sleep(0.005)


def measure(binary, config, n):
    ready_file = f"{out}/ready.json"
    if os.path.exists(ready_file):
        os.unlink(ready_file)
    log = open(f"{out}/serve-{n}.log", "w+")
    t0 = time.monotonic()
    p = subprocess.Popen([binary, "serve", "--config", config, "--listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0",
                          "--ready-file", ready_file, "--log-level", "info"], stdout=subprocess.DEVNULL, stderr=log)
    try:
        while not os.path.exists(ready_file) or os.path.getsize(ready_file) == 0:
            if p.poll() is not None:
                raise SystemExit(f"serve exited with {p.returncode}; see {log.name}")
            waited(t0, "start-up", log)
        port = int(json.load(open(ready_file))["data"].rsplit(":", 1)[1])
        last = f"/api/v{n - 1}/items"
        while get(port, last, f"X-Tenant: t{n - 1}\r\n") != 200:
            waited(t0, "the first answer", log)
        ready = time.monotonic() - t0
        assert get(port, last, "X-Tenant: other\r\n") == 404, "the header match is not applied"
        rss_start = mib(p.pid, "VmRSS")
        log.seek(0, 2)
        mark = log.tell()
        t1 = time.monotonic()
        p.send_signal(signal.SIGHUP)
        while True:
            log.seek(mark)
            text = log.read()
            if "config reloaded" in text:
                break
            if "reload refused" in text or "reload failed" in text or p.poll() is not None:
                raise SystemExit(f"reload did not apply; see {log.name}")
            waited(t1, "the reload", log)
        reload = time.monotonic() - t1
        assert get(port, last, f"X-Tenant: t{n - 1}\r\n") == 200
        return ready, reload, rss_start, mib(p.pid, "VmRSS"), mib(p.pid, "VmHWM")
    finally:
        p.send_signal(signal.SIGTERM)
        p.wait(timeout=60)


def check(binary, config):
    t0 = time.monotonic()
    subprocess.run([binary, "check", config], check=True, stdout=subprocess.DEVNULL)
    return time.monotonic() - t0


print(f"{'build':<10} {'routes':>7} {'ready s':>8} {'reload s':>9} {'rss MiB':>8} {'after':>7} {'peak':>7} {'check s':>8}")
for n in sizes:
    config = f"{out}/routes-{n}.yaml"
    write_config(config, n)
    for name, binary in zip(["this", "baseline"], binaries):
        ready, reload, rss, after, peak = measure(binary, config, n)
        print(f"{name:<10} {n:>7} {ready:>8.2f} {reload:>9.2f} {rss:>8.1f} {after:>7.1f} {peak:>7.1f} {check(binary, config):>8.2f}", flush=True)
