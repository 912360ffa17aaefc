"""A dual-era MCP server on the official Python SDK (2.3, `MCPServer`) whose lists and resource
change while it runs. It announces each change only the 2026-07-28 way, on the
`subscriptions/listen` streams of its clients (the SDK's subscription bus), so only a client
that speaks 2026-07-28 with it and listens hears of them.

- resource `note://today`, whose text `edit_note` replaces (then it announces the update);
- tool `add_tool` registers the tool `extra` (then the tool list changed);
- tool `add_prompt` registers the prompt `greet` (then the prompt list changed);
- tool `end_streams` ends every listen stream (the client should listen again);
- tool `streams` counts the open listen streams;
- tool `pid` gives its process id, so that a test can kill it.

Used by tests/it/subscriptions.rs. Usage: python live_notes.py [--http PORT]
"""

import gc
import os
import sys

from mcp.server.mcpserver import Context, MCPServer
from mcp.server.subscriptions import ListenHandler

server = MCPServer("live-notes")
NOTE = {"text": "first"}


@server.resource("note://today", name="today", mime_type="text/plain")
def today() -> str:
    return NOTE["text"]


@server.tool()
async def edit_note(text: str, ctx: Context) -> str:
    """Replace the text of note://today."""
    NOTE["text"] = text
    await ctx.notify_resource_updated("note://today")
    return "edited"


@server.tool()
async def add_tool(ctx: Context) -> str:
    """Register the tool `extra`."""

    def extra() -> str:
        """An extra tool."""
        return "extra"

    server.add_tool(extra)
    await ctx.notify_tools_changed()
    return "added"


@server.tool()
async def add_prompt(ctx: Context) -> str:
    """Register the prompt `greet`."""

    @server.prompt()
    def greet() -> str:
        """Greet."""
        return "hello"

    await ctx.notify_prompts_changed()
    return "added"


@server.tool()
def end_streams() -> str:
    """End every subscriptions/listen stream, as a server shutting them down gracefully does."""
    for handler in (o for o in gc.get_objects() if isinstance(o, ListenHandler)):
        handler.close()
    return "ended"


@server.tool()
def streams() -> int:
    """How many subscriptions/listen streams are open."""
    return sum(len(h._streams) for h in gc.get_objects() if isinstance(h, ListenHandler))


@server.tool()
def pid() -> int:
    """The server's process id."""
    return os.getpid()


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--http":
        server.run("streamable-http", host="127.0.0.1", port=int(sys.argv[2]))
    else:
        server.run()
