"""A 2026-07-28-only MCP server over stdio that is slow to start: it answers its first
`server/discover` only after DELAY seconds (as the Python SDK's servers can on a busy machine),
and from then on refuses `initialize`, as those servers do once a connection speaks 2026-07-28.
It serves one tool, `hello`. Used by tests/it/gateway_downstream.rs.

Usage: python3 slow_discover.py DELAY_SECONDS
"""

import json
import sys
import time

DELAY = float(sys.argv[1]) if len(sys.argv) > 1 else 4.0
TOOLS = [{"name": "hello", "description": "Say hello.", "inputSchema": {"type": "object"}}]
DISCOVER = {
    "resultType": "complete",
    "supportedVersions": ["2026-07-28"],
    "capabilities": {"tools": {}},
    "ttlMs": 0,
    "cacheScope": "private",
    "_meta": {"io.modelcontextprotocol/serverInfo": {"name": "slow-discover", "version": "1"}},
}


def send(message):
    sys.stdout.write(json.dumps(message) + "\n")
    sys.stdout.flush()


def main():
    discovered = False
    for line in sys.stdin:
        message = json.loads(line)
        method, rid = message.get("method"), message.get("id")
        if rid is None:
            continue
        if method == "server/discover":
            if not discovered:
                time.sleep(DELAY)
                discovered = True
            send({"jsonrpc": "2.0", "id": rid, "result": DISCOVER})
        elif method == "initialize" and discovered:
            send({"jsonrpc": "2.0", "id": rid, "error": {
                "code": -32022,
                "message": "connection is serving the 2026-07-28 protocol; the initialize handshake is not accepted",
            }})
        elif method == "tools/list":
            send({"jsonrpc": "2.0", "id": rid, "result": {
                "tools": TOOLS, "resultType": "complete", "ttlMs": 0, "cacheScope": "private"}})
        elif method == "tools/call":
            send({"jsonrpc": "2.0", "id": rid, "result": {
                "resultType": "complete", "content": [{"type": "text", "text": "hello from a slow server"}]}})
        else:
            send({"jsonrpc": "2.0", "id": rid, "error": {"code": -32601, "message": f"no method {method}"}})


if __name__ == "__main__":
    main()
