// The @gofer/proto client over a real socket: metadata, enum and int64 mapping, errors, streams.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createGoferClient, GrpcStatus, isServiceError, LogStream, PipelineState, type GoferClient } from '@gofer/proto';
import { CREATED, deadAddress, startStubGofer, type StubGofer } from './stub-gofer.server.js';

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
});
