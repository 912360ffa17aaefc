#!/usr/bin/env node
// Drives an MCP server with the official TypeScript SDK v2 client (@modelcontextprotocol/client)
// and reports what it saw. The twin of py_client.py: same scenarios, same arguments, same
// one-JSON-object output on stdout (diagnostics go to stderr):
//
//   {"client": "typescript", "sdk", "mode", "transport", "target", "connected",
//    "connect_error", "protocol_version", "era", "server_info",
//    "scenarios": {NAME: {"ok", "error", "observed", "extra"}}, "notifications", "elapsed_ms"}
//
// Run it with Node 22 from .tools/node22 (scripts/setup-test-deps.sh); the SDK is loaded from
// .tools/ts (or $MCPGW_TS_PREFIX). Modes are the SDK's versionNegotiation: `legacy` (the SDK's
// default: initialize), `auto` (probe server/discover, fall back to initialize) and
// `2026-07-28` (pin that version; never falls back).
//
// Targets: --command JSON_ARRAY (stdio) or --url URL [--token T] (streamable HTTP).
// --gateway SERVER: the target is mcpgw, and every downstream call goes through
// execute_tool {server, tool, args} (with agent_id when --agent is given).
//
// Every request has a timeout (--timeout seconds) and the whole run has one (--total-timeout).

import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const here = dirname(fileURLToPath(import.meta.url));
const prefix = process.env.MCPGW_TS_PREFIX ?? resolve(here, '../../.tools/ts');
const require = createRequire(join(prefix, 'package.json'));
let sdk, stdio, z, sdkVersion;
try {
    sdk = require('@modelcontextprotocol/client');
    stdio = require('@modelcontextprotocol/client/stdio');
    z = require('zod');
    const { readFileSync } = require('node:fs');
    sdkVersion = JSON.parse(readFileSync(join(prefix, 'node_modules/@modelcontextprotocol/client/package.json'), 'utf8')).version;
} catch (e) {
    process.stderr.write(`ts_client: cannot load @modelcontextprotocol/client from ${prefix} (run scripts/setup-test-deps.sh): ${e.message}\n`);
    process.exit(2);
}
const { Client, StreamableHTTPClientTransport } = sdk;
const { StdioClientTransport, getDefaultEnvironment } = stdio;

const SCENARIOS = ['echo', 'image', 'structured', 'gateway_error', 'elicitation', 'sampling', 'roots', 'log', 'progress', 'task'];
const LOG_LEVEL_META_KEY = 'io.modelcontextprotocol/logLevel';
// What the callbacks answer; tests/it/sdk_clients.rs checks that the server saw exactly this.
const ELICIT_ANSWER = { name: 'Ada Lovelace', check: true, integer: 7 };
const SAMPLING_TEXT = 'The answer is 4.';
const SAMPLING_MODEL = 'sdk-test-model';
const ROOT_URI = 'file:///tmp/mcpgw-sdk-root';
const ROOT_NAME = 'SDK test root';
const SIMULATED_LOG = /level[- ]message/i;
const Loose = z.looseObject({});

const { values: opts } = parseArgs({
    options: {
        command: { type: 'string' },
        url: { type: 'string' },
        token: { type: 'string' },
        env: { type: 'string', multiple: true, default: [] },
        mode: { type: 'string', default: 'legacy' },
        gateway: { type: 'string' },
        agent: { type: 'string' },
        scenarios: { type: 'string', default: SCENARIOS.join(',') },
        timeout: { type: 'string', default: '15' },
        'total-timeout': { type: 'string', default: '240' }
    }
});
function usage(message) {
    process.stderr.write(`ts_client: ${message}\nusage: ts_client.mjs (--command JSON | --url URL [--token T]) [--mode legacy|auto|2026-07-28] [--gateway SERVER [--agent ID]] [--scenarios a,b] [--timeout S]\n`);
    process.exit(2);
}
if (!opts.command === !opts.url) usage('give exactly one of --command and --url');
if (!['legacy', 'auto', '2026-07-28'].includes(opts.mode)) usage(`unknown mode ${opts.mode}`);
const scenarios = opts.scenarios.split(',').filter(Boolean);
// Run only when asked for: against the project's fixture (`ask` needs the client).
const FIXTURE_SCENARIOS = ['fixture_input'];
const unknown = scenarios.filter(s => !SCENARIOS.includes(s) && !FIXTURE_SCENARIOS.includes(s));
if (unknown.length) usage(`unknown scenarios ${unknown.join(', ')}; known: ${[...SCENARIOS, ...FIXTURE_SCENARIOS].join(', ')}`);
const timeoutMs = Number(opts.timeout) * 1000;
const totalTimeoutMs = Number(opts['total-timeout']) * 1000;

const describe = e => {
    if (e === undefined || e === null) return String(e);
    const code = e.code !== undefined ? `(${e.code})` : '';
    const text = `${e.name ?? 'Error'}${code}: ${e.message ?? String(e)}`.replace(/\s+/g, ' ');
    return text.length > 600 ? `${text.slice(0, 600)}...` : text;
};
const sleep = ms => new Promise(r => setTimeout(r, ms));
async function within(ms, what, promise) {
    let timer;
    const limit = new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${what} timed out after ${ms / 1000} s`)), ms);
    });
    try {
        return await Promise.race([promise, limit]);
    } finally {
        clearTimeout(timer);
    }
}
async function waitFor(ms, condition) {
    const end = Date.now() + ms;
    while (!condition() && Date.now() < end) await sleep(20);
}
const normResult = r => ({
    content: r?.content ?? [],
    structuredContent: r?.structuredContent ?? null,
    isError: Boolean(r?.isError)
});

// What must match through the gateway: progress arrived, in order, against the right total. The
// exact count is not compared: an SDK may drop the last notification when it races the response.
const progressObservation = (seen, result) => ({
    progress: {
        received: seen.length > 0,
        in_order: seen.every((p, i) => i === 0 || p[0] > seen[i - 1][0]),
        totals: [...new Set(seen.map(p => p[1]))].sort(),
        within_total: seen.every(p => p[0] >= 1 && p[0] <= p[1])
    },
    result
});

const rec = { notifications: [], logs: [], elicitations: [], samplings: [], rootsRequests: 0 };

function makeClient() {
    const capabilities = { elicitation: { form: {}, url: {} }, sampling: {}, roots: { listChanged: true } };
    // The tasks extension is not declared: this SDK's 2026-07-28 codec refuses a
    // `resultType: "task"` result (UNSUPPORTED_RESULT_TYPE) on every request, so a modern
    // client of it cannot take a task, and the gateway awaits task-only tools for it.
    // 2025-11-25 tasks need no capability of the client: the request asks for one.
    const mode = opts.mode === '2026-07-28' ? { pin: '2026-07-28' } : opts.mode;
    const client = new Client(
        { name: 'mcpgw-sdk-test-typescript', version: '1' },
        { capabilities, versionNegotiation: { mode } }
    );
    client.setRequestHandler('elicitation/create', async req => {
        const p = req.params;
        rec.elicitations.push({ mode: p.mode ?? 'form', message: p.message });
        if (p.mode === 'url') return { action: 'accept' };
        const props = p.requestedSchema?.properties ?? {};
        const content = Object.fromEntries(Object.entries(ELICIT_ANSWER).filter(([k]) => k in props));
        if ('interpretation' in props) content.interpretation = 'technical';
        return { action: 'accept', content };
    });
    client.setRequestHandler('sampling/createMessage', async req => {
        rec.samplings.push({ messages: req.params.messages, maxTokens: req.params.maxTokens });
        return { role: 'assistant', content: { type: 'text', text: SAMPLING_TEXT }, model: SAMPLING_MODEL, stopReason: 'endTurn' };
    });
    client.setRequestHandler('roots/list', async () => {
        rec.rootsRequests += 1;
        return { roots: [{ uri: ROOT_URI, name: ROOT_NAME }] };
    });
    client.setNotificationHandler('notifications/message', n => {
        rec.logs.push(n.params);
    });
    for (const method of ['notifications/tools/list_changed', 'notifications/resources/list_changed', 'notifications/prompts/list_changed']) {
        client.setNotificationHandler(method, n => rec.notifications.push({ method, params: n.params ?? null }));
    }
    client.fallbackNotificationHandler = async n => {
        rec.notifications.push({ method: n.method, params: n.params ?? null });
    };
    return client;
}

function makeTransport() {
    if (opts.url) {
        const headers = opts.token ? { Authorization: `Bearer ${opts.token}` } : {};
        return new StreamableHTTPClientTransport(new URL(opts.url), { requestInit: { headers } });
    }
    const [command, ...args] = JSON.parse(opts.command);
    const extra = Object.fromEntries(opts.env.map(e => [e.slice(0, e.indexOf('=')), e.slice(e.indexOf('=') + 1)]));
    return new StdioClientTransport({ command, args, env: { ...getDefaultEnvironment(), ...extra }, stderr: 'inherit' });
}

class Runner {
    constructor(client) {
        this.client = client;
        this.modern = client.getProtocolEra?.() === 'modern';
    }

    wrap(tool, args) {
        if (!opts.gateway) return [tool, args];
        const wrapped = { server: opts.gateway, tool, args };
        if (opts.agent) wrapped.agent_id = opts.agent;
        return ['execute_tool', wrapped];
    }

    async call(tool, args, extraOptions = {}, meta = undefined) {
        const [name, args2] = this.wrap(tool, args);
        const params = { name, arguments: args2 };
        if (meta) params._meta = meta;
        return await this.client.callTool(params, { timeout: timeoutMs, ...extraOptions });
    }

    // A request the SDK has no typed call for (tasks), its result checked against nothing.
    async raw(method, params) {
        return await this.client.request({ method, params }, Loose, { timeout: timeoutMs });
    }

    async echo() {
        return [{ result: normResult(await this.call('echo', { message: 'hello from the TypeScript SDK' })) }, {}];
    }

    async image() {
        return [{ result: normResult(await this.call('get-tiny-image', {})) }, {}];
    }

    async structured() {
        return [{ result: normResult(await this.call('get-structured-content', { location: 'Chicago' })) }, {}];
    }

    async gateway_error() {
        if (!opts.gateway) return [{ skipped: "the gateway's own errors need the gateway" }, {}];
        const observed = {};
        for (const [key, tool] of [['denied', 'get-env'], ['unknown', 'no-such-tool']]) {
            const r = normResult(await this.call(tool, {}));
            observed[key] = { isError: r.isError, code: r.structuredContent?.error?.code ?? null };
        }
        return [observed, {}];
    }

    // The fixture's `ask`, once per kind: the answer it saw, as text.
    async fixture_input() {
        const answers = {};
        for (const kind of ['elicitation', 'sampling', 'roots']) {
            const r = normResult(await this.call('ask', { kind }));
            answers[kind] = { isError: r.isError, text: r.content.map(c => c.text ?? null) };
        }
        return [{ answers }, {}];
    }

    async elicitation() {
        const r = normResult(await this.call('trigger-elicitation-request', {}));
        return [{ requests: [...rec.elicitations], result: r }, {}];
    }

    async sampling() {
        const r = normResult(await this.call('trigger-sampling-request', { prompt: 'What is 2+2?', maxTokens: 50 }));
        return [{ requests: [...rec.samplings], result: r }, {}];
    }

    async roots() {
        const r = normResult(await this.call('get-roots-list', {}));
        return [{ result: r }, { roots_requests: rec.rootsRequests }];
    }

    async log() {
        const extra = {};
        // 2026-07-28: the client opts in per request (the SDK does not stamp logLevel itself);
        // handshake era: logging/setLevel, when the server has the logging capability.
        const meta = this.modern ? { [LOG_LEVEL_META_KEY]: 'debug' } : undefined;
        if (!this.modern && this.client.getServerCapabilities()?.logging) {
            try {
                await this.client.setLoggingLevel('debug', { timeout: timeoutMs });
                extra.set_level = 'debug';
            } catch (e) {
                extra.set_level_error = describe(e);
            }
        }
        const before = rec.logs.length;
        const simulated = () => rec.logs.slice(before).filter(m => SIMULATED_LOG.test(String(m?.data)));
        const on = normResult(await this.call('toggle-simulated-logging', {}, {}, meta));
        await waitFor(3000, () => simulated().length > 0);
        const got = simulated();
        extra.toggle_on = on;
        extra.logs = rec.logs.slice(before);
        const off = normResult(await this.call('toggle-simulated-logging', {}, {}, meta));
        extra.toggle_off = off;
        return [{ simulated_log_received: got.length > 0, toggle_is_error: [on.isError, off.isError] }, extra];
    }

    async progress() {
        const seen = [];
        const r = normResult(
            await this.call('trigger-long-running-operation', { duration: 1, steps: 4 }, { onprogress: p => seen.push([p.progress, p.total ?? null]) })
        );
        await waitFor(1000, () => seen.length >= 4);
        return [progressObservation(seen, r), { arrival_order: seen }];
    }

    async task() {
        if (this.modern) {
            // No tasks extension (see makeClient): the gateway runs the task-only tool as a
            // task at the server and answers the plain call with its outcome.
            const result = normResult(await this.call('simulate-research-query', { topic: 'rust' }));
            return [{ awaited: true, completed: { task_created: false, result } }, {}];
        }
        const [completed, extraDone] = await this.runTask('rust', false);
        const [cancelled, extraCancel] = await this.runTask('python', true);
        return [{ completed, cancelled }, { completed: extraDone, cancelled: extraCancel }];
    }

    // One simulate-research-query task. 2025-11-25: tools/call with `task` params, then
    // tasks/get, tasks/result, tasks/cancel. 2026-07-28 (tasks extension): a plain tools/call
    // answered with resultType "task", then tasks/get (the result inline) and tasks/cancel.
    async runTask(topic, cancel) {
        const [name, args] = this.wrap('simulate-research-query', { topic });
        const params = { name, arguments: args };
        if (!this.modern) params.task = { ttl: 60000 };
        const created = await this.raw('tools/call', params);
        const extra = { created };
        const task = this.modern ? created : (created.task ?? created);
        const taskId = task?.taskId;
        if (!taskId) return [{ task_created: false, final_status: null, result: normResult(created) }, extra];
        const statuses = [task.status];
        if (cancel) extra.cancel = await this.raw('tasks/cancel', { taskId });
        let state = {};
        const end = Date.now() + timeoutMs;
        while (Date.now() < end) {
            state = await this.raw('tasks/get', { taskId });
            statuses.push(state.status);
            if (['completed', 'failed', 'cancelled'].includes(state.status)) break;
            await sleep(250);
        }
        extra.statuses = statuses;
        extra.last_get = state;
        const observed = { task_created: true, final_status: state.status ?? null };
        if (state.status === 'completed' && !cancel) {
            const result = this.modern ? state.result : await this.raw('tasks/result', { taskId });
            observed.result = normResult(result ?? {});
        }
        return [observed, extra];
    }
}

// Filled as the run goes, so a run cut short by --total-timeout still reports what it finished.
const out = {
    client: 'typescript',
    sdk: `@modelcontextprotocol/client ${sdkVersion}`,
    node: process.version,
    mode: opts.mode,
    transport: opts.url ? 'http' : 'stdio',
    target: opts.gateway ? 'gateway' : 'direct',
    connected: false,
    connect_error: null,
    protocol_version: null,
    era: null,
    server_info: null,
    scenarios: {},
    notifications: []
};

async function run() {
    const client = makeClient();
    try {
        await within(timeoutMs, 'connecting', client.connect(makeTransport(), { timeout: timeoutMs }));
    } catch (e) {
        out.connect_error = describe(e);
        await within(5000, 'closing', client.close()).catch(() => {});
        return;
    }
    out.connected = true;
    out.protocol_version = client.getNegotiatedProtocolVersion() ?? null;
    out.era = client.getProtocolEra?.() ?? null;
    out.server_info = client.getServerVersion() ?? null;
    const runner = new Runner(client);
    for (const name of scenarios) {
        const entry = { ok: false, error: null, observed: null, extra: null };
        try {
            const [observed, extra] = await within(timeoutMs * 3, name, runner[name]());
            Object.assign(entry, { ok: true, observed, extra });
        } catch (e) {
            entry.error = describe(e);
            process.stderr.write(`ts_client: ${name}: ${e?.stack ?? e}\n`);
        }
        out.scenarios[name] = entry;
    }
    out.notifications = rec.notifications;
    try {
        await within(5000, 'closing', client.close());
    } catch (e) {
        out.close_error = describe(e);
    }
}

const started = Date.now();
try {
    await within(totalTimeoutMs, 'the whole run', run());
} catch (e) {
    out.run_error = describe(e);
    if (!out.connected) out.connect_error = out.run_error;
}
out.notifications = rec.notifications;
out.elapsed_ms = Date.now() - started;
process.stdout.write(`${JSON.stringify(out)}\n`, () => process.exit(0));
