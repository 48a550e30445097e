// Request metadata through the real API of a real process, sent by bare grpc-js calls (the Gofer client
// sends only the token) and by Python's grpcio, whose HTTP/2 stack is not Node's.
import { spawnSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client, credentials, Metadata } from '@grpc/grpc-js';
import { createGoferClient, GrpcStatus } from '@gofer/proto';
import { TestCluster, type GoferProcess } from '../support/gofer-process.js';

interface Outcome {
  code: number;
  details: string;
  ms: number;
}

const identity = (bytes: Buffer) => bytes;

/** Calls WhoAmI (an empty request) with exactly `metadata`, on a connection of its own. */
async function whoAmI(address: string, metadata: Metadata, deadlineMs = 20_000): Promise<Outcome> {
  const client = new Client(address, credentials.createInsecure(), { 'grpc.use_local_subchannel_pool': 1 });
  const started = Date.now();
  try {
    return await new Promise<Outcome>((resolve) => {
      client.makeUnaryRequest('/gofer.v1.Gofer/WhoAmI', identity, identity, Buffer.alloc(0), metadata, { deadline: Date.now() + deadlineMs }, (error) =>
        resolve({ code: error?.code ?? GrpcStatus.OK, details: error?.details ?? '', ms: Date.now() - started }),
      );
    });
  } finally {
    client.close();
  }
}

function metadataOf(entries: Record<string, string>): Metadata {
  const metadata = new Metadata();
  for (const [key, value] of Object.entries(entries)) metadata.set(key, value);
  return metadata;
}

/** `count` entries of `bytes` characters each, named x-padding-<i>. */
function padding(count: number, bytes: number): Record<string, string> {
  return Object.fromEntries(Array.from({ length: count }, (_, i) => [`x-padding-${i}`, 'p'.repeat(bytes)]));
}

const PYTHON_CLIENT = `
import json, sys, time, grpc
channel = grpc.insecure_channel(sys.argv[1])
who_am_i = channel.unary_unary('/gofer.v1.Gofer/WhoAmI', request_serializer=lambda b: b, response_deserializer=lambda b: b)
for size in (20000, 100000, 0):
    metadata = [('authorization', 'Bearer ' + sys.argv[2])] + ([('x-padding', 'p' * size)] if size else [])
    started = time.monotonic()
    try:
        who_am_i(b'', metadata=metadata, timeout=20)
        outcome = {'code': 'OK', 'details': ''}
    except grpc.RpcError as error:
        outcome = {'code': error.code().name, 'details': error.details()}
    outcome.update(size=size, ms=int((time.monotonic() - started) * 1000))
    print(json.dumps(outcome), flush=True)
`;

describe('request metadata limits', () => {
  let cluster: TestCluster;
  let api: GoferProcess;
  const auth = () => ({ authorization: `Bearer ${cluster.token}` });

  beforeAll(async () => {
    cluster = await TestCluster.create('transportlimits');
    api = await cluster.start('api');
  });
  afterAll(async () => cluster?.destroy());

  const stillServes = async () => {
    expect(await whoAmI(api.grpcAddr, metadataOf(auth()))).toMatchObject({ code: GrpcStatus.OK });
    expect(api.child.exitCode).toBe(null);
  };

  it('serves a call with ordinary metadata (a token and 8 KB of other headers)', async () => {
    expect(await whoAmI(api.grpcAddr, metadataOf({ ...auth(), ...padding(8, 1000) }))).toMatchObject({ code: GrpcStatus.OK });
  });

  const oversized: Array<[string, Record<string, string>]> = [
    ['20 KB in one entry', padding(1, 20_000)],
    ['100 KB in four entries', padding(4, 25_000)],
  ];
  it.each(oversized)('answers %s with RESOURCE_EXHAUSTED at once, and keeps serving', async (_name, extra) => {
    const outcome = await whoAmI(api.grpcAddr, metadataOf({ ...auth(), ...extra }));
    expect(outcome).toMatchObject({
      code: GrpcStatus.RESOURCE_EXHAUSTED,
      details: expect.stringMatching(/^request metadata is \d+ bytes, over the 16384-byte limit/),
    });
    await stillServes();
  });

  it('answers more than 128 entries with RESOURCE_EXHAUSTED (the HTTP/2 layer resets the stream)', async () => {
    const outcome = await whoAmI(api.grpcAddr, metadataOf({ ...auth(), ...padding(200, 10) }));
    expect(outcome).toMatchObject({ code: GrpcStatus.RESOURCE_EXHAUSTED });
    await stillServes();
  });

  it('fails an 8 MB header promptly instead of leaving the client waiting, and keeps serving', async () => {
    // Past what HTTP/2 can decode (64 KiB a field): a connection error, not a status; the server closes
    // the connection, so the client fails long before its deadline.
    const outcome = await whoAmI(api.grpcAddr, metadataOf({ ...auth(), 'x-padding': 'p'.repeat(8 * 1024 * 1024) }), 20_000);
    expect([GrpcStatus.INTERNAL, GrpcStatus.UNAVAILABLE]).toContain(outcome.code);
    await stillServes();
  });

  it('gives Python grpcio a status for 20 KB and a prompt error for 100 KB (no hang)', () => {
    const run = spawnSync('/usr/bin/python3', ['-c', PYTHON_CLIENT, api.grpcAddr, cluster.token], { encoding: 'utf8', timeout: 90_000 });
    expect(run.stderr, 'python3-grpcio must be installed (apt-get install python3-grpcio)').toBe('');
    const [small, large, after] = run.stdout.trim().split('\n').map((line) => JSON.parse(line) as { code: string; details: string; ms: number });
    expect(small).toMatchObject({ code: 'RESOURCE_EXHAUSTED', details: expect.stringMatching(/^request metadata is \d+ bytes, over the 16384-byte limit/) });
    expect(large!.code).toBe('UNAVAILABLE');
    expect(after).toMatchObject({ code: 'OK' }); // the channel reconnects
  });
});

describe('authorization metadata and public calls', () => {
  let cluster: TestCluster;
  let api: GoferProcess;

  beforeAll(async () => {
    cluster = await TestCluster.create('authmetadata');
    api = await cluster.start('api');
  });
  afterAll(async () => cluster?.destroy());

  it('refuses a token with a trailing space with a message that says why it never arrived', async () => {
    const outcome = await whoAmI(api.grpcAddr, metadataOf({ authorization: `Bearer ${cluster.token} ` }));
    expect(outcome).toMatchObject({
      code: GrpcStatus.UNAUTHENTICATED,
      details: expect.stringMatching(/needs an API token.*starts or ends with whitespace/),
    });
  });

  it('calls an authorization that is not "Bearer <token>" malformed', async () => {
    for (const value of ['Basic dXNlcjpwYXNz', `Bearer ${cluster.token} ${cluster.token}`]) {
      expect(await whoAmI(api.grpcAddr, metadataOf({ authorization: value })), value.slice(0, 12)).toMatchObject({
        code: GrpcStatus.UNAUTHENTICATED,
        details: 'the API token is malformed: metadata "authorization" must be "Bearer <token>"',
      });
    }
  });

  it('accepts the scheme in any case, several spaces, and a bare token', async () => {
    for (const value of [`bearer ${cluster.token}`, `Bearer   ${cluster.token}`, cluster.token]) {
      expect(await whoAmI(api.grpcAddr, metadataOf({ authorization: value })), value.slice(0, 12)).toMatchObject({ code: GrpcStatus.OK });
    }
  });

  it('answers GetSystemInfo without a token', async () => {
    const anonymous = createGoferClient({ address: api.grpcAddr, timeoutMs: 10_000 });
    try {
      expect(await anonymous.getSystemInfo({})).toMatchObject({ version: expect.stringMatching(/^\d+\.\d+\.\d+/), scheduler: 'docker', bootstrapTokenCreated: true });
    } finally {
      anonymous.close();
    }
  });
});
