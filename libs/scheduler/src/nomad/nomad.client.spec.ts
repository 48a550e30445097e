import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { NomadLogFrame } from './nomad-log-frames.js';
import {
  blockingQueryParams,
  JobExistsError,
  NomadClient,
  NomadError,
  NomadUnavailableError,
  isNomadUnavailable,
  watch,
  type QueryResult,
} from './nomad.client.js';
import type { NomadAllocationListStub, NomadJob } from './nomad.types.js';

// A real HTTP server on loopback whose answer each test sets: the client is exercised over real sockets.
interface Seen {
  method: string;
  path: string;
  query: URLSearchParams;
  headers: IncomingMessage['headers'];
  body: string;
}
type Handler = (req: Seen, res: ServerResponse) => void | Promise<void>;

let server: Server;
let address: string;
let handler: Handler;
const seen: Seen[] = [];

beforeAll(async () => {
  server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const url = new URL(req.url ?? '/', 'http://x');
    const request = { method: req.method ?? '', path: url.pathname, query: url.searchParams, headers: req.headers, body: Buffer.concat(chunks).toString() };
    seen.push(request);
    await handler(request, res);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  address = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
// Connections stay open between tests: closing them here would race undici reusing one (a real
// "other side closed" error, which the client reports as NomadUnavailableError, but not what is tested).
afterEach(() => {
  seen.length = 0;
});
afterAll(async () => {
  server.closeAllConnections();
  server.close();
  await once(server, 'close');
});

function answer(status: number, body: unknown, index?: number): Handler {
  return (_req, res) => {
    const headers: Record<string, string> = { 'Content-Type': typeof body === 'string' ? 'text/plain' : 'application/json' };
    if (index !== undefined) headers['X-Nomad-Index'] = String(index);
    res.writeHead(status, headers).end(typeof body === 'string' ? body : JSON.stringify(body));
  };
}

const job: NomadJob = {
  ID: 'gofer-r1-t1-a1',
  Type: 'batch',
  TaskGroups: [{ Name: 'task', Tasks: [{ Name: 'task', Driver: 'docker', Config: { image: 'alpine:3' } }] }],
};

describe('NomadClient requests', () => {
  it('registers create-only with the token, namespace and region', async () => {
    handler = answer(200, { EvalID: 'e1', EvalCreateIndex: 7, JobModifyIndex: 7, Index: 7 }, 7);
    const client = new NomadClient({ address, token: 'secret', namespace: 'ci', region: 'eu' });
    expect(await client.registerJob(job, { enforceIndex: 0 })).toMatchObject({ EvalID: 'e1', JobModifyIndex: 7 });
    const [request] = seen;
    expect(request).toMatchObject({ method: 'PUT', path: '/v1/jobs' });
    expect(request!.headers['x-nomad-token']).toBe('secret');
    expect(Object.fromEntries(request!.query)).toEqual({ namespace: 'ci', region: 'eu' });
    expect(JSON.parse(request!.body)).toEqual({ Job: job, EnforceIndex: true, JobModifyIndex: 0 });
  });

  it('sends no token, namespace or region when none is configured', async () => {
    handler = answer(200, []);
    await new NomadClient({ address }).listJobs({ prefix: 'gofer-', filter: 'Meta["gofer.managed"] == "true"', meta: true });
    expect(seen[0]!.headers['x-nomad-token']).toBeUndefined();
    expect(Object.fromEntries(seen[0]!.query)).toEqual({ prefix: 'gofer-', filter: 'Meta["gofer.managed"] == "true"', meta: 'true' });
  });

  it('turns "job already exists" into JobExistsError, distinct from other failures', async () => {
    handler = answer(500, 'Enforcing job modify index 0: job already exists');
    const error = await new NomadClient({ address }).registerJob(job, { enforceIndex: 0 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(JobExistsError);
    expect(error).toMatchObject({ status: 500, detail: 'Enforcing job modify index 0: job already exists', path: 'PUT /v1/jobs' });
    expect(isNomadUnavailable(error)).toBe(false);
  });

  it('maps error answers: 404 of a read is undefined, 4xx is permanent, 5xx is retryable', async () => {
    const client = new NomadClient({ address });
    handler = answer(404, 'job not found');
    expect(await client.job('nope')).toBeUndefined();
    expect(await client.evaluation('nope')).toBeUndefined();
    expect(await client.allocation('nope')).toEqual({ value: undefined, index: 0 });
    expect(await client.deregisterJob('nope', { purge: true })).toBeUndefined();
    expect(seen.at(-1)).toMatchObject({ method: 'DELETE', path: '/v1/job/nope' });
    expect(seen.at(-1)!.query.get('purge')).toBe('true');

    handler = answer(403, 'Permission denied\n');
    const denied = await client.job('x').catch((e: unknown) => e);
    expect(denied).toBeInstanceOf(NomadError);
    expect(isNomadUnavailable(denied)).toBe(false);
    expect(denied).toMatchObject({ status: 403, detail: 'Permission denied', path: 'GET /v1/job/x' });

    handler = answer(500, 'No cluster leader');
    const noLeader = await client.job('x').catch((e: unknown) => e);
    expect(noLeader).toBeInstanceOf(NomadUnavailableError);
    expect(noLeader).toMatchObject({ status: 500, detail: 'No cluster leader' });
  });

  it('reports an unreachable Nomad as unavailable', async () => {
    const closed = createServer();
    closed.listen(0, '127.0.0.1');
    await once(closed, 'listening');
    const port = (closed.address() as AddressInfo).port;
    closed.close();
    await once(closed, 'close');
    const error = await new NomadClient({ address: `http://127.0.0.1:${port}` }).job('x').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(NomadUnavailableError);
    expect(error).toMatchObject({ status: 0, path: 'GET /v1/job/x' });
    expect((error as Error).message).toContain('ECONNREFUSED');
  });

  it('reports a Nomad that does not answer in time as unavailable', async () => {
    handler = () => {}; // never answers
    const error = await new NomadClient({ address, requestTimeoutMs: 100 }).job('x').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(NomadUnavailableError);
    expect((error as Error).message).toContain('no answer');
  });

  it('rethrows the caller\'s abort reason, not a Nomad error', async () => {
    const arrived = new Promise<void>((resolve) => (handler = () => resolve())); // then never answers
    const abort = new AbortController();
    const pending = new NomadClient({ address }).job('x', { signal: abort.signal });
    await arrived;
    abort.abort(new Error('cancelled by test'));
    await expect(pending).rejects.toThrow('cancelled by test');
  });
});

describe('blocking queries', () => {
  it.each([
    { query: undefined, params: {} },
    { query: { index: 0, waitMs: 5000 }, params: {} },
    { query: { index: 42 }, params: { index: '42', wait: '60s' } },
    { query: { index: 42, waitMs: 30_000 }, params: { index: '42', wait: '30s' } },
    { query: { index: 7, waitMs: 1500 }, params: { index: '7', wait: '1500ms' } },
  ])('blockingQueryParams($query) = $params', ({ query, params }) => {
    expect(blockingQueryParams(query)).toEqual(params);
  });

  it('sends index and wait, and returns X-Nomad-Index with the value', async () => {
    const allocs = [{ ID: 'a1', ClientStatus: 'running' }];
    handler = answer(200, allocs, 13);
    const result = await new NomadClient({ address, namespace: 'ci' }).jobAllocations('j 1', { index: 12, waitMs: 2000 });
    expect(result).toEqual({ value: allocs, index: 13 });
    expect(seen[0]!.path).toBe('/v1/job/j%201/allocations');
    expect(Object.fromEntries(seen[0]!.query)).toEqual({ namespace: 'ci', index: '12', wait: '2s' });
  });

  it('watch re-issues with the last index, yields changes only, and starts over when the index goes backwards', async () => {
    const answers = [10, 10, 12, 3, 5];
    let call = 0;
    handler = (_req, res) => answer(200, [{ ID: `v${call}` }], answers[call++])(_req, res);
    const client = new NomadClient({ address });
    const abort = new AbortController();
    const yielded: Array<QueryResult<NomadAllocationListStub[]>> = [];
    for await (const result of watch((q) => client.jobAllocations('j', q), { signal: abort.signal, waitMs: 1000 })) {
      yielded.push(result);
      if (yielded.length === 4) abort.abort();
    }
    expect(yielded.map((r) => r.index)).toEqual([10, 12, 3, 5]);
    expect(seen.map((r) => r.query.get('index'))).toEqual([null, '10', '10', '12', null]);
    expect(seen[1]!.query.get('wait')).toBe('1s');
  });
});

describe('streamLogs', () => {
  const frame = (fields: Record<string, unknown>) => `${JSON.stringify(fields)}\n`;
  const b64 = (text: string) => Buffer.from(text).toString('base64');

  it('asks for the task\'s log and decodes frames written in arbitrary pieces', async () => {
    const wire =
      frame({ File: 'alloc/logs/main.stdout.0', Offset: 6, Data: b64('hello\n') }) +
      '{}\n' +
      frame({ File: 'alloc/logs/main.stdout.0', FileEvent: 'file truncated', Offset: 3, Data: b64('new') });
    handler = async (_req, res) => {
      res.writeHead(200, { 'Content-Type': 'application/json' });
      // Cut inside the first frame's base64, and inside the heartbeat, each write flushed on its own.
      for (const piece of [wire.slice(0, 20), wire.slice(20, 58), wire.slice(58, 59), wire.slice(59)]) {
        res.write(piece);
        await new Promise((resolve) => setImmediate(resolve));
      }
      res.end();
    };
    const frames: NomadLogFrame[] = [];
    const client = new NomadClient({ address, namespace: 'ci' });
    for await (const f of client.streamLogs('alloc-1', 'main', 'stderr', { follow: true, offset: 6, origin: 'start' })) frames.push(f);
    expect(frames).toEqual([
      { kind: 'data', data: Buffer.from('hello\n'), offset: 6, file: 'alloc/logs/main.stdout.0' },
      { kind: 'file-event', event: 'file truncated', offset: 0, file: 'alloc/logs/main.stdout.0' },
      { kind: 'data', data: Buffer.from('new'), offset: 3, file: 'alloc/logs/main.stdout.0' },
    ]);
    expect(seen[0]!.path).toBe('/v1/client/fs/logs/alloc-1');
    expect(Object.fromEntries(seen[0]!.query)).toEqual({ namespace: 'ci', task: 'main', type: 'stderr', follow: 'true', offset: '6', origin: 'start' });
  });

  it('ends when the signal aborts a followed stream that Nomad keeps open, past the request timeout', async () => {
    handler = (_req, res) => {
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.write(frame({ File: 'f', Offset: 2, Data: b64('hi') })); // then nothing, like a finished task (nomad#18369)
    };
    const abort = new AbortController();
    const frames: NomadLogFrame[] = [];
    const client = new NomadClient({ address, requestTimeoutMs: 50 });
    for await (const f of client.streamLogs('a', 't', 'stdout', { follow: true, signal: abort.signal })) {
      frames.push(f);
      setTimeout(() => abort.abort(), 200); // well past requestTimeoutMs: a stream has no deadline once open
    }
    expect(frames).toEqual([{ kind: 'data', data: Buffer.from('hi'), offset: 2, file: 'f' }]);
  });

  it('throws the mapped error when Nomad refuses the stream', async () => {
    handler = answer(404, 'Unknown allocation "a"');
    const iterator = new NomadClient({ address }).streamLogs('a', 't', 'stdout');
    await expect(iterator.next()).rejects.toMatchObject({ status: 404, detail: 'Unknown allocation "a"' });
  });
});
