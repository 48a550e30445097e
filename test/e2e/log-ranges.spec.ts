// GetTaskRunLogs' `tail` and `limit` (what the web UI's tail-first log reads), and ListEvents' `last`,
// against a real Gofer: finished logs read from the archive, a live one followed from its tail, and
// the contradictory or oversized requests refused with what is wrong.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GrpcStatus, type GetTaskRunLogsRequest, type GetTaskRunLogsResponse, type GoferClient } from '@gofer/proto';
import { TestCluster, waitFor } from '../support/gofer-process.js';
import { apply, readLogs, startRun, waitForRun } from '../support/runs.js';

describe('log tails and stretches, and the newest events', () => {
  let cluster: TestCluster;
  let client: GoferClient;

  beforeAll(async () => {
    cluster = await TestCluster.create('log-ranges');
    await cluster.start();
    client = cluster.client();
  });
  afterAll(async () => cluster?.destroy());

  async function read(request: Partial<GetTaskRunLogsRequest> & Pick<GetTaskRunLogsRequest, 'pipelineId' | 'runId' | 'taskId'>): Promise<GetTaskRunLogsResponse[]> {
    const out: GetTaskRunLogsResponse[] = [];
    const full: GetTaskRunLogsRequest = { namespaceId: 'default', attempt: 0, follow: false, offset: 0, tail: 0, limit: 0, ...request };
    for await (const message of client.getTaskRunLogs(full)) out.push({ ...message, chunk: Buffer.from(message.chunk) });
    return out;
  }
  const text = (chunks: GetTaskRunLogsResponse[]) => Buffer.concat(chunks.map((c) => Buffer.from(c.chunk))).toString();
  /** Each chunk starts where the one before ended: nothing missed, nothing twice. */
  const contiguous = (chunks: GetTaskRunLogsResponse[]) => chunks.every((c, i) => i === 0 || c.offset === chunks[i - 1]!.offset + chunks[i - 1]!.chunk.length);

  it('sends a finished log\'s last bytes, and any stretch of it, at their offsets', async () => {
    await apply(client, 'id: long-log\ntasks:\n  - id: count\n    image: busybox:latest\n    script: seq 1 20000\n');
    const run = await startRun(client, 'long-log');
    await waitForRun(client, 'long-log', run.id);
    const whole = await readLogs(client, 'long-log', run.id, 'count');
    expect(whole.length).toBeGreaterThan(100_000);
    const ref = { pipelineId: 'long-log', runId: run.id, taskId: 'count' };

    const tail = await read({ ...ref, tail: 1000 });
    expect(tail[0]!.offset).toBe(whole.length - 1000);
    expect(text(tail)).toBe(whole.slice(-1000));
    expect(contiguous(tail)).toBe(true);
    expect(tail.every((c) => c.attempt === 1)).toBe(true);

    // What a reader showing the tail asks for next: the stretch just before it.
    const before = await read({ ...ref, offset: whole.length - 3000, limit: 2000 });
    expect(before[0]!.offset).toBe(whole.length - 3000);
    expect(text(before)).toBe(whole.slice(-3000, -1000));

    expect(text(await read({ ...ref, tail: 10_000_000 }))).toBe(whole); // longer than the log: all of it
    expect(text(await read({ ...ref, offset: 5, limit: 10_000_000 }))).toBe(whole.slice(5));
    expect(await read({ ...ref, offset: whole.length + 10, limit: 5 })).toEqual([]);
  });

  it('follows a running task from its tail: the last bytes so far, then what it writes next, once', async () => {
    await apply(client, `
id: live-tail
tasks:
  - id: talk
    image: busybox:latest
    script: 'seq 1 5000; while [ ! -e /tmp/go ]; do sleep 0.2; done; echo the-end'
`);
    const run = await startRun(client, 'live-tail');
    const ref = { pipelineId: 'live-tail', runId: run.id, taskId: 'talk' };
    await waitFor('the task to have written its numbers', async () => ((await readLogs(client, 'live-tail', run.id, 'talk')).includes('\n5000\n') ? true : undefined));
    const received: GetTaskRunLogsResponse[] = [];
    const following = (async () => {
      for await (const message of client.getTaskRunLogs({ namespaceId: 'default', ...ref, attempt: 0, follow: true, offset: 0, tail: 100, limit: 0 })) {
        received.push({ ...message, chunk: Buffer.from(message.chunk) });
      }
    })();
    await waitFor('the tail to arrive', async () => (received.length > 0 ? true : undefined));
    const { taskRuns } = await client.listTaskRuns({ namespaceId: 'default', pipelineId: 'live-tail', runId: run.id });
    const container = taskRuns[0]!.schedulerId;
    const { execFileSync } = await import('node:child_process');
    execFileSync('docker', ['exec', container, 'touch', '/tmp/go']);
    await following; // the follow ends with the task
    const whole = await readLogs(client, 'live-tail', run.id, 'talk');
    expect(whole.endsWith('5000\nthe-end\n')).toBe(true);
    expect(received[0]!.offset).toBe(whole.indexOf('the-end') - 100);
    expect(text(received)).toBe(whole.slice(received[0]!.offset));
    expect(contiguous(received)).toBe(true);
  });

  it('refuses contradictory and oversized ranges with what is wrong', async () => {
    await apply(client, 'id: tiny-log\ntasks:\n  - id: say\n    image: busybox:latest\n    script: echo hi\n');
    const run = await startRun(client, 'tiny-log');
    await waitForRun(client, 'tiny-log', run.id);
    const ref = { pipelineId: 'tiny-log', runId: run.id, taskId: 'say' };
    const refusal = (request: Partial<GetTaskRunLogsRequest>) => read({ ...ref, ...request }).then(
      () => undefined,
      (error: { code: number; details: string }) => ({ code: error.code, details: error.details }),
    );
    expect(await refusal({ tail: 10, offset: 5 })).toEqual({ code: GrpcStatus.INVALID_ARGUMENT, details: expect.stringContaining('tail and offset contradict each other') });
    expect(await refusal({ tail: 10, limit: 5 })).toEqual({ code: GrpcStatus.INVALID_ARGUMENT, details: expect.stringContaining('tail and limit contradict each other') });
    expect(await refusal({ limit: 5, follow: true })).toEqual({ code: GrpcStatus.INVALID_ARGUMENT, details: expect.stringContaining('limit and follow contradict each other') });
    expect(await refusal({ tail: 17 * 1024 * 1024 })).toEqual({ code: GrpcStatus.INVALID_ARGUMENT, details: `tail must be a byte count from 0 to 16777216, got ${17 * 1024 * 1024}` });
    expect(await refusal({ tail: -1, limit: -2 })).toEqual({
      code: GrpcStatus.INVALID_ARGUMENT,
      details: 'tail must be a byte count from 0 to 16777216, got -1\nlimit must be a byte count of 0 or more, got -2',
    });
    expect(text(await read(ref))).toBe('hi\n'); // nothing above changed the log
  });

  it('starts an event feed with the newest stored events of a namespace', async () => {
    await client.createNamespace({ id: 'feed', name: 'Feed', description: '' });
    await client.applyPipelineConfig({ namespaceId: 'feed', config: Buffer.from('id: feed-a\ntasks:\n  - {id: t, image: busybox:latest}\n'), format: 'CONFIG_FORMAT_UNSPECIFIED' as never });
    await client.applyPipelineConfig({ namespaceId: 'feed', config: Buffer.from('id: feed-b\ntasks:\n  - {id: t, image: busybox:latest}\n'), format: 'CONFIG_FORMAT_UNSPECIFIED' as never });
    await client.disablePipeline({ namespaceId: 'feed', id: 'feed-b' });
    const list = async (last: number) => {
      const kinds: string[] = [];
      for await (const { event } of client.listEvents({ afterId: 0, follow: false, namespaceId: 'feed', skipExisting: false, last })) kinds.push(`${event!.kind}:${event!.pipelineId}`);
      return kinds;
    };
    const all = await list(0);
    expect(all.length).toBeGreaterThan(3);
    expect(await list(2)).toEqual(all.slice(-2));
    expect(await list(1000)).toEqual(all);
    // A client token reading every namespace it may see: the newest events of ITS namespaces, even when
    // newer ones of other namespaces come after them.
    const feedOnly = (await client.createToken({ kind: 'TOKEN_KIND_CLIENT' as never, namespaces: ['feed'], metadata: {}, expiresInSeconds: 0 })).secret;
    await apply(client, 'id: elsewhere\ntasks:\n  - {id: t, image: busybox:latest}\n');
    await client.disablePipeline({ namespaceId: 'default', id: 'elsewhere' });
    const scoped = cluster.client(undefined, feedOnly);
    const seen: string[] = [];
    for await (const { event } of scoped.listEvents({ afterId: 0, follow: false, namespaceId: '', skipExisting: false, last: 2 })) seen.push(`${event!.kind}:${event!.pipelineId}`);
    expect(seen).toEqual(all.slice(-2));
    const refused = await (async () => {
      for await (const _ of client.listEvents({ afterId: 0, follow: false, namespaceId: 'feed', skipExisting: true, last: 5 })) void _;
    })().catch((error: { code: number; details: string }) => error);
    expect(refused).toMatchObject({ code: GrpcStatus.INVALID_ARGUMENT, details: expect.stringContaining('last and skip_existing contradict each other') });
  });
});
