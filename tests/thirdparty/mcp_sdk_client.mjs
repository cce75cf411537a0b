// The official TypeScript MCP SDK's Client, unchanged, against `musicagent mcp` over stdio,
// streamable HTTP or the older HTTP+SSE. Reads a plan (JSON file, argv[2]) of sessions and steps; prints one JSON line.
//
// The transport is wrapped only to observe it: the wrapper records the server's initialize answer
// and, when a session asks for an older protocol version, offers that one instead of the SDK's
// newest (as a client built on an older SDK release would). Everything else, the handshake, the
// output-schema validation of structuredContent (Ajv, or the SDK's @cfworker/json-schema validator
// when a session asks), is the SDK's own code path.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';

const plan = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const sdk = path => import(pathToFileURL(`${plan.sdk}/dist/esm/${path}`).href);
const { Client } = await sdk('client/index.js');
const { StdioClientTransport } = await sdk('client/stdio.js');
const { StreamableHTTPClientTransport } = await sdk('client/streamableHttp.js');
const { SSEClientTransport } = await sdk('client/sse.js');
// A strict JSON Schema compiler, stricter than the SDK's own (which turns strict mode off): Ajv's
// draft 2020-12 build with strict mode on and the formats checked, from the SDK's dependencies.
const require = createRequire(`${plan.sdk}/package.json`);
const Ajv2020 = require('ajv/dist/2020').default;
const addFormats = require('ajv-formats').default ?? require('ajv-formats');
const { AjvJsonSchemaValidator } = await sdk('validation/ajv-provider.js');
// The SDK's other validator (for edge runtimes), on the optional @cfworker/json-schema it resolves beside it.
const validators = {
    ajv: () => undefined,  // the default: the Client makes its own Ajv validator
    cfworker: async () => new (await sdk('validation/cfworker-provider.js')).CfWorkerJsonSchemaValidator(),
};
const types = await sdk('types.js');

class Observed {
    constructor(inner, offer) {
        this.inner = inner;
        this.offer = offer;
        this.initialize = null;
        this.negotiated = null;
        this.initializeId = null;
        this.answered = new Set();  // ids of the server's responses
        this.sentIds = [];  // ids of the client's requests, in order
    }
    set onmessage(handler) {
        this.inner.onmessage = (message, extra) => {
            if (message.id !== undefined && message.id === this.initializeId) this.initialize = message;
            if (message.id !== undefined && message.method === undefined) this.answered.add(message.id);
            handler(message, extra);
        };
    }
    set onclose(handler) { this.inner.onclose = handler; }
    set onerror(handler) { this.inner.onerror = handler; }
    get sessionId() { return this.inner.sessionId; }
    start() { return this.inner.start(); }
    close() { return this.inner.close(); }
    send(message, options) {
        if (message.id !== undefined && message.method !== undefined) this.sentIds.push(message.id);
        if (message.method === 'initialize') {
            this.initializeId = message.id;
            if (this.offer) message = { ...message, params: { ...message.params, protocolVersion: this.offer } };
        }
        return this.inner.send(message, options);
    }
    setProtocolVersion(version) {
        this.negotiated = version;
        if (this.inner.setProtocolVersion) this.inner.setProtocolVersion(version);
    }
}

function failure(error) {
    return { ok: false, error: String(error?.message ?? error), code: error?.code ?? null };
}

function strictlyCompiled(tools) {
    const failures = [];
    for (const tool of tools) {
        for (const [which, schema] of [['input', tool.inputSchema], ['output', tool.outputSchema]]) {
            if (!schema) continue;
            const ajv = new Ajv2020({ strict: true, allErrors: true });
            addFormats(ajv);
            try { ajv.compile(schema); } catch (e) { failures.push(`${tool.name} ${which}: ${e.message}`); }
        }
    }
    return failures;
}

async function step(client, s, transport) {
    switch (s.op) {
        case 'strictSchemas': {
            const { tools } = await client.listTools();
            return { count: tools.length, failures: strictlyCompiled(tools) };
        }
        case 'listToolsCursor':
            return await client.listTools({ cursor: s.cursor });
        case 'setLoggingLevel':
            return await client.setLoggingLevel(s.level);
        case 'cancel': {
            // A call aborted while the server works on it: the SDK sends notifications/cancelled.
            const controller = new AbortController();
            const started = Date.now();
            setTimeout(() => controller.abort('no longer needed'), s.after);
            const call = client.callTool({ name: s.name, arguments: s.arguments }, undefined, { signal: controller.signal });
            const id = transport.sentIds[transport.sentIds.length - 1];
            try {
                await call;
                return { aborted: false };
            } catch (error) {
                return { aborted: true, ms: Date.now() - started, id, error: String(error?.message ?? error) };
            }
        }
        case 'answered':  // did the server ever answer request `id` (a cancelled one must not be)?
            await new Promise(resolve => setTimeout(resolve, s.wait ?? 0));
            return { answered: [...transport.answered] };
        case 'listTools': {
            const { tools } = await client.listTools();  // compiles every outputSchema (Ajv)
            const ajv = new AjvJsonSchemaValidator();
            const uncompilable = [];
            for (const tool of tools) {
                try { ajv.getValidator(tool.inputSchema); } catch (e) { uncompilable.push(`${tool.name}: ${e.message}`); }
            }
            return { tools, uncompilable };
        }
        case 'callTool':
            return await client.callTool({ name: s.name, arguments: s.arguments });
        case 'listResources':
            return await client.listResources();
        case 'listResourceTemplates':
            return await client.listResourceTemplates();
        case 'ping':
            return await client.ping();
        case 'readResource':
            return await client.readResource({ uri: s.uri });
        case 'listPrompts':
            return await client.listPrompts();
        case 'getPrompt':
            return await client.getPrompt({ name: s.name, arguments: s.arguments });
        default:
            throw new Error(`unknown step ${s.op}`);
    }
}

async function session(s) {
    const inner = s.transport === 'http'
        ? new StreamableHTTPClientTransport(new URL(s.url))
        : s.transport === 'sse'
            ? new SSEClientTransport(new URL(s.url))
            : new StdioClientTransport({ command: s.command, args: s.args, cwd: s.cwd, stderr: 'inherit' });
    const transport = new Observed(inner, s.protocolVersion);
    const jsonSchemaValidator = await validators[s.validator ?? 'ajv']();
    const client = new Client({ name: 'musicagent-tests', version: '1.0.0' }, { jsonSchemaValidator });
    const out = { results: [], validator: (jsonSchemaValidator ?? new AjvJsonSchemaValidator()).constructor.name };
    try {
        await client.connect(transport);
    } catch (error) {
        return { ...out, connect: failure(error) };
    }
    out.initialize = transport.initialize?.result ?? null;
    out.negotiated = transport.negotiated;
    out.serverVersion = client.getServerVersion();
    for (const s2 of s.steps) {
        try {
            out.results.push({ ok: true, value: await step(client, s2, transport) });
        } catch (error) {
            out.results.push(failure(error));
        }
    }
    if (s.transport === 'http') await inner.terminateSession().catch(() => {});
    await client.close();
    return out;
}

const sessions = [];
for (const s of plan.sessions) sessions.push(await session(s));
console.log(JSON.stringify({ sdkVersions: types.SUPPORTED_PROTOCOL_VERSIONS, latest: types.LATEST_PROTOCOL_VERSION, sessions }));
