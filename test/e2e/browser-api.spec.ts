// The browser API (apps/gofer/src/api/browser-api.ts): the gofer.v1 service on the HTTP port under /rpc,
// with the Connect protocol and gRPC-Web over HTTP/1.1, as a browser speaks them. Driven here by
// Connect's own clients and by bare fetch, against a real Gofer; what it must show is that a browser's
// call is the CLI's call: same authentication, same policies, same errors, streams included.
import { Code, ConnectError, createClient, type Client, type Interceptor, type Transport } from '@connectrpc/connect';
import { createConnectTransport, createGrpcWebTransport } from '@connectrpc/connect-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GoferClient } from '@gofer/proto';
import { Gofer, LogStream, TokenKind } from '@gofer/proto/es';
import { TestCluster, type GoferProcess } from '../support/gofer-process.js';
import { apply, startRun, waitForRun } from '../support/runs.js';

describe('the browser API: gofer.v1 over Connect and gRPC-Web on the HTTP port', () => {
  let cluster: TestCluster;
  let process: GoferProcess;
  let grpc: GoferClient;
  let base: string;
  let clientToken: string;

  beforeAll(async () => {
    cluster = await TestCluster.create('browser-api');
    process = await cluster.start();
    grpc = cluster.client();
    base = `http://${process.httpAddr}/rpc`;
    await grpc.createNamespace({ id: 'team-a', name: 'Team A', description: '' });
    clientToken = (await grpc.createToken({ kind: 'TOKEN_KIND_CLIENT' as never, namespaces: ['team-a'], metadata: {}, expiresInSeconds: 0 })).secret;
  });
  afterAll(async () => cluster?.destroy());

  const transports: Array<[string, (token?: string) => Transport]> = [
    ['Connect (JSON)', (token) => createConnectTransport({ baseUrl: base, httpVersion: '1.1', useBinaryFormat: false, interceptors: auth(token) })],
    ['Connect (binary)', (token) => createConnectTransport({ baseUrl: base, httpVersion: '1.1', useBinaryFormat: true, interceptors: auth(token) })],
    ['gRPC-Web', (token) => createGrpcWebTransport({ baseUrl: base, httpVersion: '1.1', interceptors: auth(token) })],
  ];

  /** Sends the token the way the web UI does: an `authorization` header, never in the URL ('' sends none). */
  function auth(token: string | undefined): Interceptor[] {
    if (!token) return [];
    return [(next) => async (request) => {
      request.header.set('authorization', `Bearer ${token}`);
      return next(request);
    }];
  }

  function client(make: (token?: string) => Transport, token = cluster.token): Client<typeof Gofer> {
    return createClient(Gofer, make(token));
  }

  async function connectError(promise: Promise<unknown>): Promise<ConnectError> {
    const error = await promise.then(() => undefined, (e: unknown) => e);
    expect(error).toBeInstanceOf(ConnectError);
    return error as ConnectError;
  }

  /** What the gRPC API answers the same call: code and message. */
  async function grpcError(promise: Promise<unknown>): Promise<{ code: number; details: string }> {
    const error = (await promise.then(() => undefined, (e: unknown) => e)) as { code: number; details: string };
    return { code: error.code, details: error.details };
  }

  describe.each(transports)('%s', (_name, make) => {
    it('answers unary calls with the caller\'s identity and data', async () => {
      const me = await client(make).whoAmI({});
      expect(me.token?.kind).toBe(TokenKind.MANAGEMENT);
      const namespaces = await client(make).listNamespaces({});
      expect(namespaces.namespaces.map((n) => n.id).sort()).toEqual(['default', 'team-a']);
    });

    it('refuses a call without a token, or with a wrong one, exactly as gRPC does', async () => {
      const none = await connectError(client(make, '').listPipelines({ namespaceId: 'default' }));
      const viaGrpc = await grpcError(cluster.client(process, '').listPipelines({ namespaceId: 'default', limit: 0, offset: 0 }));
      expect(none.code).toBe(Code.Unauthenticated);
      expect(viaGrpc.code).toBe(16);
      expect(none.rawMessage).toBe(viaGrpc.details);
      const wrong = await connectError(client(make, 'gofer_not-a-real-token').whoAmI({}));
      expect(wrong.code).toBe(Code.Unauthenticated);
    });

    it('applies the per-handler policies: a client token sees only its namespaces', async () => {
      const teamA = client(make, clientToken);
      expect((await teamA.listPipelines({ namespaceId: 'team-a' })).pipelines).toEqual([]);
      const denied = await connectError(teamA.listPipelines({ namespaceId: 'default' }));
      expect(denied.code).toBe(Code.PermissionDenied);
      const viaGrpc = await grpcError(cluster.client(process, clientToken).listPipelines({ namespaceId: 'default', limit: 0, offset: 0 }));
      expect(denied.rawMessage).toBe(viaGrpc.details);
      const management = await connectError(teamA.listTokens({}));
      expect(management.code).toBe(Code.PermissionDenied);
    });

    it('maps errors to the same codes and messages: not found, invalid argument', async () => {
      const missing = await connectError(client(make).getRun({ namespaceId: 'default', pipelineId: 'nope', runId: 1n }));
      expect(missing.code).toBe(Code.NotFound);
      expect(missing.rawMessage).toBe((await grpcError(grpc.getRun({ namespaceId: 'default', pipelineId: 'nope', runId: 1 }))).details);
      const bad = await connectError(client(make).applyPipelineConfig({ namespaceId: 'default', config: new TextEncoder().encode('tasks: [') }));
      expect(bad.code).toBe(Code.InvalidArgument);
    });
  });

  it('streams a run\'s live logs and events to a browser (server streams over HTTP/1.1)', async () => {
    await apply(grpc, `
id: browser-stream
tasks:
  - id: talk
    image: busybox:latest
    script: 'echo first; sleep 1; printf "\\033[32mgreen\\033[0m\\n"; echo err >&2'
`);
    const run = await startRun(grpc, 'browser-stream');
    const web = client(transports[2]![1]);
    let stdout = '';
    let stderr = '';
    for await (const chunk of web.getTaskRunLogs({ namespaceId: 'default', pipelineId: 'browser-stream', runId: BigInt(run.id), taskId: 'talk', follow: true })) {
      const text = new TextDecoder().decode(chunk.chunk);
      if (chunk.stream === LogStream.STDERR) stderr += text;
      else stdout += text;
    }
    expect(stdout).toBe('first\n\u001b[32mgreen\u001b[0m\n');
    expect(stderr).toBe('err\n');
    await waitForRun(grpc, 'browser-stream', run.id);

    // Events: the ones already there, then followed until the browser stops reading.
    const controller = new AbortController();
    const kinds: string[] = [];
    try {
      for await (const { event } of client(transports[0]![1]).listEvents({ follow: true, afterId: 0n, namespaceId: 'default' }, { signal: controller.signal })) {
        kinds.push(event!.kind);
        if (kinds.includes('run_completed')) controller.abort();
      }
    } catch (error) {
      expect(ConnectError.from(error).code).toBe(Code.Canceled); // the browser stopped reading
    }
    expect(kinds).toContain('run_started');
    expect(kinds).toContain('run_completed');

    // skip_existing: only what happens after the call, as a page that has just read the state wants.
    let newest = 0;
    for await (const { event } of grpc.listEvents({ afterId: 0, follow: false, namespaceId: 'default', skipExisting: false, last: 0 })) newest = event!.id;
    const fresh = new AbortController();
    const events = client(transports[1]![1]).listEvents({ follow: true, skipExisting: true, namespaceId: 'default' }, { signal: fresh.signal });
    const reading = (async () => {
      const seen: Array<{ id: bigint; runId: bigint }> = [];
      try {
        for await (const { event } of events) {
          seen.push({ id: event!.id, runId: event!.runId });
          if (event!.kind === 'run_completed') fresh.abort();
        }
      } catch (error) {
        expect(ConnectError.from(error).code).toBe(Code.Canceled);
      }
      return seen;
    })();
    const next = await startRun(grpc, 'browser-stream');
    await waitForRun(grpc, 'browser-stream', next.id);
    // Normally the follow ends itself at run_completed; it is stopped anyway if it opened after it.
    await Promise.race([reading, new Promise((resolve) => setTimeout(resolve, 10_000))]);
    fresh.abort();
    const seen = await reading;
    // None of what was stored before the call; the new run's events (the follow may open a little after
    // the run was created, so its first events may be among the skipped).
    expect(seen.length).toBeGreaterThan(0);
    expect(seen.every((event) => event.id > BigInt(newest))).toBe(true);
    expect(seen.every((event) => event.runId === BigInt(next.id))).toBe(true);
  });

  describe('hostile and malformed requests: a clear error, nothing breaks', () => {
    const url = (method: string) => `${base}/gofer.v1.Gofer/${method}`;
    const post = (method: string, body: string, headers: Record<string, string> = {}) =>
      fetch(url(method), { method: 'POST', body, headers: { 'content-type': 'application/json', authorization: `Bearer ${cluster.token}`, ...headers } });

    it('a browser\'s bare fetch with JSON works', async () => {
      const response = await post('WhoAmI', '{}');
      expect(response.status).toBe(200);
      expect(await response.json()).toMatchObject({ token: { kind: 'TOKEN_KIND_MANAGEMENT' } });
    });

    it('malformed JSON, a wrong field type or binary junk is invalid_argument, naming the problem', async () => {
      for (const body of ['{', '{"namespaceId": 5}', '\u0000\u0001', '[1,2]']) {
        const response = await post('ListPipelines', body);
        expect(response.status).toBe(400);
        const error = (await response.json()) as { code: string; message: string };
        expect(error.code).toBe('invalid_argument');
        expect(error.message.length).toBeGreaterThan(0);
      }
    });

    it('an oversized body is refused before it is read whole', async () => {
      const big = JSON.stringify({ namespaceId: 'default', config: Buffer.alloc(9 * 1024 * 1024, 97).toString('base64') });
      const response = await post('ApplyPipelineConfig', big);
      expect(response.status).not.toBe(200);
      const error = (await response.json()) as { code: string };
      expect(error.code).toBe('resource_exhausted');
    });

    it('an upload (a client stream) is refused with a message that says what to use instead', async () => {
      // A Connect streaming request, as a client would send one: one enveloped message.
      const message = Buffer.from(JSON.stringify({ header: { namespaceId: 'default', pipelineId: 'p', key: 'k' } }));
      const envelope = Buffer.concat([Buffer.from([0, 0, 0, 0, message.length]), message]);
      const response = await fetch(url('PutPipelineObject'), {
        method: 'POST', body: envelope,
        headers: { 'content-type': 'application/connect+json', 'connect-protocol-version': '1', authorization: `Bearer ${cluster.token}` },
      });
      const body = Buffer.from(await response.arrayBuffer());
      // The end-of-stream envelope (flag 2) carries the error.
      expect(body[0]).toBe(2);
      expect(JSON.parse(body.subarray(5).toString())).toEqual({
        error: { code: 'unimplemented', message: 'PutPipelineObject streams its request, which browsers cannot do over HTTP/1.1: use the gofer CLI or a gRPC client' },
      });
    });

    it('an unknown method is 404, a wrong content type 415; the service still answers after all of it', async () => {
      expect((await post('NoSuchMethod', '{}')).status).toBe(404);
      expect((await post('WhoAmI', '{}', { 'content-type': 'text/plain' })).status).toBe(415);
      expect((await fetch(`http://${process.httpAddr}/healthz`)).status).toBe(200);
      expect((await grpc.whoAmI({})).token?.kind).toBe('TOKEN_KIND_MANAGEMENT');
    });
  });
});
