// usage: node list.js OUT.json CMD ARGS...  — spawns an MCP stdio server and prints tools/list
const { spawn } = require('child_process');
const fs = require('fs');
const [out, cmd, ...args] = process.argv.slice(2);
const p = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'inherit'], env: { ...process.env } });
let buf = '', tools = [], done = false;
function send(m) { p.stdin.write(JSON.stringify(m) + '\n'); }
const timer = setTimeout(() => { console.error('timeout', out); p.kill(); process.exit(1); }, 120000);
p.stdout.on('data', d => {
  buf += d;
  let i;
  while ((i = buf.indexOf('\n')) >= 0) {
    const line = buf.slice(0, i); buf = buf.slice(i + 1);
    let m; try { m = JSON.parse(line); } catch { continue; }
    if (m.id === 1) {
      fs.writeFileSync(out + '.init.json', JSON.stringify(m.result, null, 1));
      send({ jsonrpc: '2.0', method: 'notifications/initialized' });
      send({ jsonrpc: '2.0', id: 2, method: 'tools/list', params: {} });
    } else if (m.id >= 2) {
      tools.push(...(m.result?.tools || []));
      if (m.result?.nextCursor) send({ jsonrpc: '2.0', id: m.id + 1, method: 'tools/list', params: { cursor: m.result.nextCursor } });
      else { fs.writeFileSync(out, JSON.stringify(tools, null, 1)); console.error(out, tools.length); clearTimeout(timer); p.kill(); process.exit(0); }
    }
  }
});
send({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'list', version: '0' } } });
