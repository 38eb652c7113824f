"""A hostile stdio MCP server: line-delimited JSON-RPC on stdin/stdout, misbehaving on command.

    python hostile_stdio.py

Tools: `endless` writes 40 MiB on stdout with no newline (then waits); `noisy` writes 200,000
lines on stderr, then answers "noisy"; `flood` writes 1,500 progress notifications of 100 KB
(150 MB), says "flood sent" on stderr, then answers "flood"; `ok` answers "ok". Every write
is bounded.
"""
import json
import sys
import time


def send(obj):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


for line in sys.stdin:
    msg = json.loads(line)
    method, mid = msg.get("method"), msg.get("id")
    if mid is None:
        continue
    if method == "initialize":
        send({"jsonrpc": "2.0", "id": mid, "result": {"protocolVersion": msg["params"].get("protocolVersion", "2025-06-18"),
                                                      "capabilities": {"tools": {}}, "serverInfo": {"name": "hostile-stdio", "version": "1"}}})
    elif method == "tools/list":
        send({"jsonrpc": "2.0", "id": mid, "result": {"tools": [
            {"name": n, "inputSchema": {"type": "object"}} for n in ("endless", "noisy", "flood", "ok")]}})
    elif method == "tools/call":
        name = msg["params"]["name"]
        if name == "endless":
            chunk = "x" * (1 << 20)
            try:
                for _ in range(40):
                    sys.stdout.write(chunk)
                sys.stdout.flush()
            except BrokenPipeError:
                sys.exit(0)
            time.sleep(30)
            sys.exit(0)
        if name == "flood":
            token = msg["params"].get("_meta", {}).get("progressToken")
            pad = "p" * 100_000
            for i in range(1500):
                send({"jsonrpc": "2.0", "method": "notifications/progress", "params": {"progressToken": token, "progress": i, "message": pad}})
            sys.stderr.write("flood sent\n")
            sys.stderr.flush()
        if name == "noisy":
            for i in range(200_000):
                sys.stderr.write(f"noise line {i} " + "n" * 100 + "\n")
            sys.stderr.flush()
        send({"jsonrpc": "2.0", "id": mid, "result": {"content": [{"type": "text", "text": name}]}})
    else:
        send({"jsonrpc": "2.0", "id": mid, "result": {}})
