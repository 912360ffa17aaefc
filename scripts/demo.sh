#!/usr/bin/env bash
# Builds mcpgw and runs it on the bundled example config (config/), then drives one short
# MCP session over stdio as an agent would: discover servers, fetch one server's tools,
# call a tool, and get refused by the policy. Needs only cargo (crates.io).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --quiet --bins
gw=(target/debug/mcpgw --mcp-config config/.mcp.json --rules config/.mcp-gateway-rules.json --audit-log target/demo-audit.jsonl)

session() {
  local id=0
  msg() { id=$((id + 1)); printf '{"jsonrpc":"2.0","id":%d,"method":"%s","params":%s}\n' "$id" "$1" "$2"; sleep 0.3; }
  msg initialize '{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"demo","version":"1"}}'
  printf '{"jsonrpc":"2.0","method":"notifications/initialized"}\n'
  msg tools/call '{"name":"list_servers","arguments":{"agent_id":"researcher"}}'
  msg tools/call '{"name":"get_server_tools","arguments":{"agent_id":"researcher","server":"notes"}}'
  msg tools/call '{"name":"execute_tool","arguments":{"agent_id":"researcher","server":"notes","tool":"add","args":{"a":2,"b":40}}}'
  msg tools/call '{"name":"execute_tool","arguments":{"agent_id":"researcher","server":"media","tool":"image"}}'
  sleep 0.5
}

echo "== mcpgw on config/ (stderr: what it loaded; stdout: the MCP answers)"
session | "${gw[@]}" | while IFS= read -r line; do
  printf '%s\n\n' "$line" | cut -c1-400
done
echo "== the audit log: target/demo-audit.jsonl"
