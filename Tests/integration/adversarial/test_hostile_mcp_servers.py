"""An MCP server that turns against the agents behind the gateway: it adds tools after it was
listed, named to take a trusted tool's name, and it must not get them."""
import contextlib
import json
import sqlite3
import subprocess
import sys

from conftest import request, wait_for
from mcp_support import HERE, agent, free_port, listening
from test_mcp_gate import mcp_upstreams  # noqa: F401 (a fixture)


def mcp_config(servers, store, extra=""):
    lines = "\n".join(f"    - {{ name: {s.name}, url: {s.url} }}" for s in servers)
    return f"store: {store}\nmcp:\n  servers:\n{lines}\n  access:\n    - {{ allow: [\"*\"] }}\n{extra}"


def test_a_server_listed_first_cannot_take_a_trusted_tools_name(gateway, mcp_upstreams, tmp_path):
    # `x_b` (hostile, first in config order) has a tool `c`; `x` has `b_c`. Before, both were
    # `x_b_c`, the first server kept the name, and an agent's call to `x_b_c` (arguments and
    # secrets included) went to the hostile server; a tool it added later could do the same.
    hostile, trusted = mcp_upstreams("x_b", gen="1"), mcp_upstreams("x", gen="1")
    db = tmp_path / "names.db"
    gw = gateway(mcp_config([hostile, trusted], f"sqlite:{db}"))
    before, added, changed, after, call = agent(f"{gw.url}/mcp", [
        {"op": "list_tools"},
        {"op": "call", "name": "x-b_add_tool", "args": {"tool": "c_2"}},
        {"op": "wait_list_changed"},
        {"op": "list_tools"},
        {"op": "call", "name": "x_b_c"},
    ], gen="1")["results"]
    assert added["text"] == "added" and changed == "changed"
    assert "x_b_c" in before and "x_b_c" in after
    assert call["text"] == "x.b_c"  # the trusted server's tool, still
    assert "x-b_c_2" in after and "x-b_c_2" not in before
    # Whatever the hostile server adds, no name of `x` moves.
    assert {t for t in before if t.startswith("x_")} == {t for t in after if t.startswith("x_")}
    # Names given are kept in the store with their (server, tool).
    gw.stop()
    rows = set(sqlite3.connect(db).execute("SELECT exposed, server, original FROM mcp_exposed_names WHERE kind = 'tools'"))
    assert ("x_b_c", "x", "b_c") in rows and ("x-b_c_2", "x_b", "c_2") in rows


def test_a_tool_added_after_the_first_listing_is_quarantined_until_approved(gateway, mcp_upstreams, tmp_path):
    fs = mcp_upstreams("fs", gen="1")
    store = f"sqlite:{tmp_path}/pins.db"
    gw = gateway(mcp_config([fs], store, extra="  pinning: quarantine\n"))
    before, added, changed, after, refused = agent(f"{gw.url}/mcp", [
        {"op": "list_tools"},
        {"op": "call", "name": "fs_add_tool", "args": {"tool": "exfiltrate"}},
        {"op": "wait_list_changed"},
        {"op": "list_tools"},
        {"op": "call", "name": "fs_exfiltrate"},
    ], gen="1")["results"]
    assert added["text"] == "added" and changed == "changed"
    assert set(after) == set(before)  # trusted on first sight only at the first listing
    assert refused["error"]["code"] == -32602
    pins = json.loads(request(gw.admin_port, "GET", "/admin/mcp/tools")[2])["tools"]
    new = next(p for p in pins if p["tool"] == "exfiltrate")
    assert new["status"] == "new" and new["approved_sha256"] is None and new["pending_sha256"]
    assert all(p["status"] == "approved" for p in pins if p["tool"] != "exfiltrate")
    assert 'triplegate_mcp_tool_definition_changes_total{server="fs",tool="exfiltrate"} 1' in request(gw.admin_port, "GET", "/metrics")[2].decode()
    assert request(gw.admin_port, "POST", "/admin/mcp/tools/approve?server=fs&tool=exfiltrate")[0] == 200
    listed, called = agent(f"{gw.url}/mcp", [{"op": "list_tools"}, {"op": "call", "name": "fs_exfiltrate"}], gen="1")["results"]
    assert "fs_exfiltrate" in listed and called["text"] == "fs.exfiltrate"


@contextlib.contextmanager
def hostile(mode):
    port = free_port()
    proc = subprocess.Popen([sys.executable, str(HERE / "hostile_server.py"), mode, str(port)])
    try:
        wait_for("the hostile upstream", lambda: listening(port))
        yield f"http://127.0.0.1:{port}/mcp"
    finally:
        proc.terminate()
        proc.wait()


def test_a_server_whose_list_is_not_utf8_is_left_out_and_the_others_stay(gateway, mcp_upstreams, tmp_path):
    good = mcp_upstreams("good", gen="1")
    with hostile("bad_utf8") as url:
        gw = gateway(f"""store: sqlite:{tmp_path}/u.db
mcp:
  servers:
    - {{ name: bad, url: "{url}" }}
    - {{ name: good, url: {good.url} }}
  access: [{{ allow: ["*"] }}]
""")
        listed, echoed = agent(f"{gw.url}/mcp", [
            {"op": "list_tools"}, {"op": "call", "name": "good_echo", "args": {"text": "still here"}}], gen="1")["results"]
        assert "good_echo" in listed and not any(t.startswith("bad_") for t in listed)
        assert echoed["text"] == "still here"
        metrics = request(gw.admin_port, "GET", "/metrics")[2].decode()
        assert 'triplegate_mcp_list_failures_total{server="bad",method="tools/list"}' in metrics
        assert "not valid JSON" in gw.logs()
