// Live log follows on a real Redis: a follower that stops gives its connection back at once.
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { fromOffset, TaskLogs, type LogArchive } from '@gofer/logs';

const noArchive: LogArchive = {
  put: async () => 0,
  get: async () => undefined,
  delete: async () => undefined,
};

describe('TaskLogs.readLiveChunks with follow', () => {
  const name = `goferTest_follow_${randomBytes(3).toString('hex')}`;
  const redis = new Redis('redis://127.0.0.1:6379', { connectionName: name });
  const logs = new TaskLogs(redis, noArchive, name, 1024 * 1024);
  const key = { namespaceId: 'default', pipelineId: 'p', runId: 1, taskId: 't', attempt: 1 };
  afterAll(async () => {
    const keys = await redis.keys(`${name}:*`);
    if (keys.length > 0) await redis.del(...keys);
    redis.disconnect();
  });

  /** Connections to Redis carrying this test's connection name (the follower's duplicate inherits it). */
  async function connections(): Promise<number> {
    const list = (await redis.client('LIST')) as string;
    return list.split('\n').filter((line) => line.includes(` name=${name} `)).length;
  }

  it('closes the follower\'s own connection as soon as the signal aborts, not after its blocking read', async () => {
    const writer = logs.writer(key);
    writer.write('stdout', Buffer.from('hello\n'));
    const abort = new AbortController();
    const reader = logs.readLiveChunks(key, { follow: true, signal: abort.signal, stillRunning: async () => true });
    expect((await reader.next()).value?.data.toString()).toBe('hello\n');
    expect(await connections()).toBe(2);
    const pending = reader.next().catch(() => ({ done: true })); // blocks in XREAD for new entries
    await new Promise((resolve) => setTimeout(resolve, 100));
    const aborted = Date.now();
    abort.abort();
    expect(await pending).toMatchObject({ done: true });
    expect(Date.now() - aborted).toBeLessThan(300); // the XREAD blocks for up to 1 s
    expect(await connections()).toBe(1);
    await writer.close(60);
  });

  it('gives a follower each byte once when an adopting worker writes the output again, and resumes from an offset', async () => {
    const adopted = { ...key, taskId: 'adopted' };
    const first = logs.writer(adopted);
    first.write('stdout', Buffer.from('one\n'));
    first.write('stderr', Buffer.from('two\n'));
    const abort = new AbortController();
    const seen: string[] = [];
    const follower = (async () => {
      for await (const c of fromOffset(logs.readLiveChunks(adopted, { follow: true, signal: abort.signal, stillRunning: async () => true }), 0)) {
        seen.push(`${c.offset}:${c.stream}:${c.data.toString()}`);
      }
    })();
    await new Promise((resolve) => setTimeout(resolve, 300));
    // The first worker dies; the adopting one re-reads the container's whole output and goes on.
    const second = logs.writer(adopted);
    second.write('stdout', Buffer.from('one\n'));
    second.write('stderr', Buffer.from('two\n'));
    second.write('stdout', Buffer.from('three\n'));
    await second.close(60);
    await follower;
    abort.abort();
    expect(seen).toEqual(['0:stdout:one\n', '4:stderr:two\n', '8:stdout:three\n']);

    // A reader that lost its stream after 6 bytes resumes there.
    const resumed: string[] = [];
    for await (const c of fromOffset(logs.readLiveChunks(adopted, { follow: false }), 6)) resumed.push(c.data.toString());
    expect(resumed.join('')).toBe('o\nthree\n');
  });

  it('writes a small log again when its stream lost entries (Redis flushed), so readers get every byte once', async () => {
    const flushed = { ...key, taskId: 'flushed' };
    const writer = logs.writer(flushed);
    writer.write('stdout', Buffer.from('before the flush\n'));
    const live = `${name}:`;
    const streamKey = (await redis.keys(`${live}*`)).find((k) => k.includes('flushed'));
    let found = streamKey;
    for (let i = 0; !found && i < 100; i++) {
      await new Promise((resolve) => setTimeout(resolve, 20));
      found = (await redis.keys(`${live}*`)).find((k) => k.includes('flushed'));
    }
    expect(found).toBeDefined();
    await redis.del(found!); // what FLUSHALL does to it
    writer.write('stderr', Buffer.from('after it\n'));
    await writer.close(60);
    const read: string[] = [];
    for await (const c of fromOffset(logs.readLiveChunks(flushed, { follow: false }), 0)) read.push(`${c.offset}:${c.stream}:${c.data.toString()}`);
    expect(read).toEqual(['0:stdout:before the flush\n', '17:stderr:after it\n']);
  });
});
