// The @gofer/proto client over a real socket: metadata, enum and int64 mapping, errors, streams,
// uploads.
import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createGoferClient,
  GrpcStatus,
  isServiceError,
  LogStream,
  OBJECT_CHUNK_BYTES,
  PipelineState,
  TokenKind,
  type GoferClient,
} from '@gofer/proto';
import { CREATED, deadAddress, FORBIDDEN_KEY, startStubGofer, STUB_EVENTS, TOO_BIG_KEY, type StubGofer } from './stub-gofer.server.js';

const MiB = OBJECT_CHUNK_BYTES;
const sha256 = (data: Uint8Array) => createHash('sha256').update(data).digest('hex');

/** An endless body of fresh 1 MiB chunks that counts how many bytes were pulled from it. */
function endless(): { body: AsyncIterable<Uint8Array>; pulled: () => number } {
  let pulled = 0;
  async function* body() {
    for (;;) {
      pulled += MiB;
      yield Buffer.alloc(MiB, 7);
    }
  }
  return { body: body(), pulled: () => pulled };
}

describe('createGoferClient', () => {
  let stub: StubGofer;
  let client: GoferClient;

  beforeAll(async () => {
    stub = await startStubGofer();
    client = createGoferClient({ address: stub.address, token: 's3cret' });
  });
  afterAll(async () => {
    client?.close();
    await stub?.close();
  });

  it('calls GetPipeline with the bearer token and maps the answer to the generated types', async () => {
    const before = stub.authorizations.length;
    const { pipeline } = await client.getPipeline({ namespaceId: 'team-a', id: 'hello' });
    expect(stub.authorizations.slice(before)).toEqual(['Bearer s3cret']);
    expect(pipeline).toEqual({
      namespaceId: 'team-a',
      id: 'hello',
      name: 'Hello',
      description: 'Says hello.',
      state: PipelineState.PIPELINE_STATE_DISABLED,
      parallelism: 2,
      latestConfigVersion: 3,
      created: CREATED,
      updated: CREATED + 60_000,
    });
    // Enums arrive as their names and int64 as plain numbers, as the generated types say.
    expect(pipeline!.state).toBe('PIPELINE_STATE_DISABLED');
    expect(typeof pipeline!.created).toBe('number');
  });

  it('sends no authorization without a token', async () => {
    const anonymous = createGoferClient({ address: stub.address });
    try {
      const before = stub.authorizations.length;
      await anonymous.getPipeline({ namespaceId: 'default', id: 'hello' });
      expect(stub.authorizations.slice(before)).toEqual([undefined]);
    } finally {
      anonymous.close();
    }
  });

  it('rejects with the server status and message', async () => {
    const err = await client.getPipeline({ namespaceId: 'default', id: 'nope' }).catch((e: unknown) => e);
    expect(isServiceError(err)).toBe(true);
    expect(err).toMatchObject({ code: GrpcStatus.NOT_FOUND, details: 'pipeline "nope" not found' });
  });

  it('passes map fields and bytes both ways', async () => {
    const { run } = await client.startRun({ namespaceId: 'default', pipelineId: 'hello', variables: { WHO: 'you', EMPTY: '' } });
    expect(stub.started.at(-1)!.variables).toEqual({ WHO: 'you', EMPTY: '' });
    expect(run!.variables).toEqual({ WHO: 'world' });
    expect(run!.statusReason).toBeNull();
  });

  it('streams log chunks with their stream', async () => {
    const chunks: Array<[string, LogStream]> = [];
    for await (const { chunk, stream } of client.getTaskRunLogs({
      namespaceId: 'default',
      pipelineId: 'hello',
      runId: 1,
      taskId: 'greet',
      attempt: 0,
      follow: false,
      offset: 0,
      tail: 0,
      limit: 0,
    })) {
      chunks.push([Buffer.from(chunk).toString('utf8'), stream]);
    }
    expect(chunks).toEqual([
      ['hello world\n', LogStream.LOG_STREAM_STDOUT],
      ['warning: shy\n', LogStream.LOG_STREAM_STDERR],
    ]);
  });

  it('cancels a followed log stream when the consumer stops reading', async () => {
    let received = 0;
    for await (const _ of client.getTaskRunLogs({
      namespaceId: 'default',
      pipelineId: 'hello',
      runId: 1,
      taskId: 'greet',
      attempt: 0,
      follow: true,
      offset: 0,
      tail: 0,
      limit: 0,
    })) {
      if (++received === 5) break;
    }
    expect(received).toBe(5);
    // The server sees the cancellation (the test times out otherwise).
    await stub.logStreamCancelled;
  });

  it('fails with UNAVAILABLE when nothing listens', async () => {
    const dead = createGoferClient({ address: await deadAddress() });
    try {
      const err = await dead.getSystemInfo({}).catch((e: unknown) => e);
      expect(err).toMatchObject({ code: GrpcStatus.UNAVAILABLE });
    } finally {
      dead.close();
    }
  });

  it('calls BootstrapToken without the token, even when the client has one', async () => {
    const before = stub.authorizations.length;
    const { token, secret } = await client.bootstrapToken({});
    expect(stub.authorizations.slice(before)).toEqual([undefined]);
    expect(token).toMatchObject({ kind: TokenKind.TOKEN_KIND_MANAGEMENT, disabled: false });
    expect(secret).toMatch(/^secret-/);
    // Every other call still carries it.
    await client.listTokens({});
    expect(stub.authorizations.at(-1)).toBe('Bearer s3cret');
  });

  it('uploads a pipeline object in chunks of at most 1 MiB and downloads it back', async () => {
    const content = randomBytes(2.5 * MiB + 3);
    const header = { namespaceId: 'default', pipelineId: 'hello', key: 'blob.bin' };
    // One big input chunk and a small one: the big one is split, nothing is merged.
    const response = await client.putPipelineObject(header, Readable.from([content.subarray(0, 2.5 * MiB), content.subarray(2.5 * MiB)]));
    expect(response).toEqual({
      object: { key: 'blob.bin', size: content.length, sha256: sha256(content), created: expect.any(Number) },
      evicted: [],
    });
    expect(stub.uploads.at(-1)).toEqual({ header, bytes: content.length, chunks: 4, largestChunk: MiB });

    const parts: Array<'info' | 'chunk'> = [];
    const received: Buffer[] = [];
    for await (const message of client.getPipelineObject(header)) {
      if (message.info) {
        parts.push('info');
        expect(message.info).toEqual(response.object);
      }
      if (message.chunk) {
        parts.push('chunk');
        received.push(Buffer.from(message.chunk));
      }
    }
    expect(parts).toEqual(['info', 'chunk', 'chunk', 'chunk']);
    expect(sha256(Buffer.concat(received))).toBe(sha256(content));
  });

  it('uploads a run object from bytes, and an empty one', async () => {
    const header = { namespaceId: 'default', pipelineId: 'hello', runId: 3, key: 'out.txt' };
    const { object } = await client.putRunObject(header, Buffer.from('result\n'));
    expect(object).toMatchObject({ key: 'out.txt', size: 7, sha256: sha256(Buffer.from('result\n')) });
    const empty = await client.putRunObject({ ...header, key: 'empty' }, new Uint8Array(0));
    expect(empty.object).toMatchObject({ size: 0, sha256: sha256(new Uint8Array(0)) });
    const { objects } = await client.listRunObjects({ namespaceId: 'default', pipelineId: 'hello', runId: 3 });
    expect(objects.map((o) => o.key)).toEqual(['empty', 'out.txt']);
  });

  it("rejects with the server's status when the server refuses at the header, and stops reading the body", async () => {
    const { body, pulled } = endless();
    const err = await client
      .putPipelineObject({ namespaceId: 'team-b', pipelineId: 'hello', key: FORBIDDEN_KEY }, body)
      .catch((e: unknown) => e);
    expect(err).toMatchObject({ code: GrpcStatus.PERMISSION_DENIED, details: 'token may not write objects in namespace "team-b"' });
    // The endless body was abandoned rather than read forever.
    const after = pulled();
    await new Promise((resolve) => setImmediate(resolve));
    expect(pulled()).toBe(after);
  });

  it('honours backpressure: a server that stops reading stops the body being read', async () => {
    const { body, pulled } = endless();
    const err = await client
      .putPipelineObject({ namespaceId: 'default', pipelineId: 'hello', key: TOO_BIG_KEY }, body)
      .catch((e: unknown) => e);
    expect(err).toMatchObject({ code: GrpcStatus.RESOURCE_EXHAUSTED });
    // The server read 1 chunk and paused until it refused; only what the transport buffers in between
    // was read from the (endless) body, not everything the body could produce meanwhile.
    expect(stub.uploads.at(-1)!.chunks).toBe(1);
    expect(pulled()).toBeLessThan(64 * MiB);
  });

  it("rejects with the body's own error when reading it fails, cancelling the call", async () => {
    async function* failing() {
      yield Buffer.alloc(10);
      throw Object.assign(new Error('EIO: i/o error, read'), { code: 'EIO' });
    }
    const err = await client
      .putPipelineObject({ namespaceId: 'default', pipelineId: 'hello', key: 'half.bin' }, failing())
      .catch((e: unknown) => e);
    expect(err).toMatchObject({ message: 'EIO: i/o error, read', code: 'EIO' });
    expect(stub.objects.has('default/hello/half.bin')).toBe(false);
  });

  it('rejects a download of a missing object with NOT_FOUND', async () => {
    const read = async () => {
      for await (const _ of client.getRunObject({ namespaceId: 'default', pipelineId: 'hello', runId: 9, key: 'nope' }));
    };
    await expect(read()).rejects.toMatchObject({ code: GrpcStatus.NOT_FOUND });
  });

  it('streams events and cancels a followed stream when the consumer stops reading', async () => {
    const all = [];
    for await (const { event } of client.listEvents({ afterId: 1, follow: false, namespaceId: '', skipExisting: false, last: 0 })) all.push(event);
    expect(all).toEqual(STUB_EVENTS.slice(1));

    let received = 0;
    for await (const _ of client.listEvents({ afterId: 0, follow: true, namespaceId: '', skipExisting: false, last: 0 })) {
      if (++received === STUB_EVENTS.length + 2) break;
    }
    await stub.eventStreamCancelled;
  });
});
