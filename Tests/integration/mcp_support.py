"""MCP test support: upstream MCP servers and agents of both SDK generations, as processes.

The integration venv holds `mcp` 2.x (its client tries 2026-07-28 `server/discover` first; its
server is `MCPServer`); a second venv holds `mcp<2` (session-based revisions; `FastMCP`).
scripts/test makes both and names the second in MCP1_PYTHON.
"""
import json
import os
import pathlib
import socket
import subprocess
import sys

from conftest import ROOT, wait_for

HERE = pathlib.Path(__file__).resolve().parent / "mcp_peers"
TOOLS = 22  # the tools of upstream_server.py
PYTHON = {"2": sys.executable, "1": os.environ.get("MCP1_PYTHON", str(ROOT / ".build" / "venv-mcp1" / "bin" / "python"))}


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def listening(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True
    except OSError:
        return False


class Upstream:
    """An upstream MCP server (upstream_server.py) over streamable-http or sse."""

    def __init__(self, tmp_path, name, gen="2", transport="streamable-http", port=None):
        self.name, self.gen, self.transport = name, gen, transport
        self.port = port or free_port()
        self.log_path = tmp_path / f"upstream-{name}-{self.port}.log"
        self.start()

    def start(self):
        self.log = open(self.log_path, "ab")
        self.proc = subprocess.Popen([PYTHON[self.gen], str(HERE / "upstream_server.py"), self.name, self.transport, str(self.port)],
                                     stdout=self.log, stderr=subprocess.STDOUT)
        wait_for(f"upstream {self.name} to listen", lambda: self.proc.poll() is None and listening(self.port), timeout=30)

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}/" + ("sse" if self.transport == "sse" else "mcp")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


def stdio_command(name, gen="1"):
    return json.dumps([PYTHON[gen], str(HERE / "upstream_server.py"), name, "stdio"])


def modern_call(port, name, arguments=None):
    """A 2026-07-28 tools/call with a progress token on a raw socket (the agent can close it
    mid-call); returns the socket."""
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {
        "name": name, "arguments": arguments or {}, "_meta": {
            "progressToken": "p", "io.modelcontextprotocol/protocolVersion": "2026-07-28", "io.modelcontextprotocol/clientCapabilities": {}}}}).encode()
    head = (f"POST /mcp HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nAccept: application/json, text/event-stream\r\n"
            f"MCP-Protocol-Version: 2026-07-28\r\nMcp-Method: tools/call\r\nMcp-Name: {name}\r\nContent-Length: {len(body)}\r\n\r\n").encode()
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    s.sendall(head + body)
    return s


def agent(url, ops, gen="2", key=None, transport="streamable-http", mode="auto", timeout=60):
    """Runs agent.py with the SDK of generation `gen`; returns its JSON report."""
    cmd = [PYTHON[gen], str(HERE / "agent.py"), url, json.dumps(ops), "--transport", transport, "--mode", mode]
    if key:
        cmd += ["--key", key]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, f"agent failed ({done.returncode}):\n{done.stdout}\n{done.stderr}"
    return json.loads(done.stdout.strip().splitlines()[-1])
