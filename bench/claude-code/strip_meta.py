#!/usr/bin/env python3
"""Runs an MCP server over stdio and removes `anthropic/alwaysLoad` from the `_meta` of every
tool it lists, passing everything else through unchanged, line by line.

  python3 strip_meta.py COMMAND ARGS...

bench/claude-code.sh puts it between Claude Code and mcpgw to measure what the key, which the
gateway sets on its meta-tools, does to Claude Code's requests and turns.
"""
import json
import subprocess
import sys
import threading

KEY = "anthropic/alwaysLoad"


def strip(line):
    try:
        msg = json.loads(line)
    except ValueError:
        return line
    tools = (msg.get("result") or {}).get("tools") if isinstance(msg, dict) else None
    if not isinstance(tools, list):
        return line
    for tool in tools:
        meta = tool.get("_meta")
        if isinstance(meta, dict) and KEY in meta:
            del meta[KEY]
            if not meta:
                del tool["_meta"]
    return (json.dumps(msg, separators=(",", ":")) + "\n").encode()


def main():
    child = subprocess.Popen(sys.argv[1:], stdin=subprocess.PIPE, stdout=subprocess.PIPE)

    def pump_in():
        for line in sys.stdin.buffer:
            child.stdin.write(line)
            child.stdin.flush()
        child.stdin.close()

    threading.Thread(target=pump_in, daemon=True).start()
    for line in child.stdout:
        sys.stdout.buffer.write(strip(line))
        sys.stdout.buffer.flush()
    sys.exit(child.wait())


if __name__ == "__main__":
    main()
