"""A legacy MCP server over stdio whose tool `raw` answers with the result it is given, as JSON
text, written byte for byte: the tests make results that a JSON library would not write back
as they came (`1e400`, `1.0`, escapes, vendor fields). It refuses `server/discover`, so the
gateway speaks 2025-06-18 with it. Used by tests/it/pass_through.rs.

Usage: python3 raw_results.py
"""

import json
import sys

TOOLS = [{"name": "raw", "description": "Answer with the given result.",
          "inputSchema": {"type": "object", "properties": {"json": {"type": "string"}}}}]


def main():
    out = sys.stdout.buffer
    for line in sys.stdin.buffer:
        message = json.loads(line)
        method, rid = message.get("method"), message.get("id")
        if rid is None:
            continue
        if method == "initialize":
            result = json.dumps({"protocolVersion": "2025-06-18", "capabilities": {"tools": {}},
                                 "serverInfo": {"name": "raw-results", "version": "1"}})
        elif method == "tools/list":
            result = json.dumps({"tools": TOOLS})
        elif method == "tools/call":
            result = message["params"]["arguments"]["json"]
        elif method == "ping":
            result = "{}"
        else:
            error = {"code": -32601, "message": f"no method {method}"}
            out.write(json.dumps({"jsonrpc": "2.0", "id": rid, "error": error}).encode() + b"\n")
            out.flush()
            continue
        out.write(b'{"jsonrpc":"2.0","id":' + json.dumps(rid).encode() + b',"result":' + result.encode("utf-8") + b"}\n")
        out.flush()


if __name__ == "__main__":
    main()
