// Per-call latency of the official TypeScript SDK v2 client (`@modelcontextprotocol/client`,
// on its default version negotiation unless --mode is given) calling one tool of a stdio
// server: `--calls` sequential calls after 20 warm-up calls. Run with Node 22 (the SDK wants
// it); bench/ts-latency.sh runs every variant in alternating rounds. Prints one JSON object:
// {"p50_ms", "p99_ms", "calls", "protocol"}.
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const here = dirname(fileURLToPath(import.meta.url));
const prefix = process.env.MCPGW_TS_PREFIX ?? resolve(here, '../.tools/ts');
const require = createRequire(join(prefix, 'package.json'));
const { Client } = require('@modelcontextprotocol/client');
const { StdioClientTransport, getDefaultEnvironment } = require('@modelcontextprotocol/client/stdio');

const { values: opts } = parseArgs({
    options: {
        command: { type: 'string' },
        tool: { type: 'string' },
        args: { type: 'string', default: '{}' },
        wrap: { type: 'string' },
        mode: { type: 'string' },
        calls: { type: 'string', default: '500' },
    },
});
const command = JSON.parse(opts.command);
const args = JSON.parse(opts.args);
const argumentsOf = opts.wrap ? { ...JSON.parse(opts.wrap), args } : args;
// `--mode 2026-07-28` pins that revision; `legacy` and `auto` are the SDK's own modes.
const mode = opts.mode === '2026-07-28' ? { pin: '2026-07-28' } : opts.mode;
const client = new Client({ name: 'mcpgw-ts-latency', version: '1' },
    mode ? { capabilities: {}, versionNegotiation: { mode } } : { capabilities: {} });
const transport = new StdioClientTransport({ command: command[0], args: command.slice(1), env: getDefaultEnvironment(), stderr: 'ignore' });
await client.connect(transport, { timeout: 30000 });
const call = async () => {
    const r = await client.callTool({ name: opts.tool, arguments: argumentsOf }, { timeout: 30000 });
    if (r.isError) throw new Error(`${opts.tool} failed: ${JSON.stringify(r).slice(0, 300)}`);
};
for (let i = 0; i < 20; i++) await call();
const samples = [];
for (let i = 0; i < Number(opts.calls); i++) {
    const t = process.hrtime.bigint();
    await call();
    samples.push(Number(process.hrtime.bigint() - t) / 1e6);
}
samples.sort((a, b) => a - b);
const pct = q => samples[Math.min(samples.length - 1, Math.max(0, Math.round(q * samples.length) - 1))];
const protocol = client.getNegotiatedProtocolVersion?.() ?? client.getServerVersion?.()?.version ?? null;
process.stdout.write(JSON.stringify({ p50_ms: pct(0.5), p99_ms: pct(0.99), calls: samples.length, protocol }) + '\n');
await client.close();
process.exit(0);
