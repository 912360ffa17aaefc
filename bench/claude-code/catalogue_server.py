#!/usr/bin/env python3
"""An MCP server (stdio, newline-delimited JSON-RPC) that serves the real tool definitions one
server of bench/search/catalogue.json recorded, to make a larger catalogue for
bench/claude-code.sh without installing (and credentialling) those servers.

  python3 catalogue_server.py CATALOGUE.json SERVER

tools/list returns that server's tools exactly as recorded (name, title, description,
inputSchema); tools/call answers every call with a short text. Standard library only.
"""
import json
import sys


def main():
    catalogue, name = sys.argv[1], sys.argv[2]
    servers = {s["name"]: s for s in json.load(open(catalogue))["servers"]}
    server = servers[name]
    tools = server["tools"]
    out = sys.stdout
    for line in sys.stdin:
        line = line.strip()
        if not line:
            continue
        try:
            msg = json.loads(line)
        except ValueError:
            continue
        if "id" not in msg or "method" not in msg:
            continue  # notifications and responses
        method, mid = msg["method"], msg["id"]
        if method == "initialize":
            version = msg.get("params", {}).get("protocolVersion", "2025-06-18")
            result = {"protocolVersion": version, "capabilities": {"tools": {}},
                      "serverInfo": {"name": "catalogue-" + name, "version": server.get("version", "0")}}
        elif method == "tools/list":
            result = {"tools": tools}
        elif method == "tools/call":
            tool = msg.get("params", {}).get("name")
            result = {"content": [{"type": "text", "text": "%s/%s: done (catalogue stand-in)" % (name, tool)}]}
        elif method == "ping":
            result = {}
        else:
            out.write(json.dumps({"jsonrpc": "2.0", "id": mid, "error": {"code": -32601, "message": "method not found: " + method}}) + "\n")
            out.flush()
            continue
        out.write(json.dumps({"jsonrpc": "2.0", "id": mid, "result": result}) + "\n")
        out.flush()


if __name__ == "__main__":
    main()
