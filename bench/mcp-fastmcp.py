"""The FastMCP upstream of bench/mcp (mcp<2): one `echo` tool, stateful Streamable HTTP."""
import sys

from mcp.server.fastmcp import FastMCP

app = FastMCP("bench", host="127.0.0.1", port=int(sys.argv[1]), log_level="WARNING")


@app.tool()
def echo(text: str) -> str:
    """Echo the text back."""
    return text


app.run(transport="streamable-http")
