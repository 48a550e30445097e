// Live log follows on a real Redis: a follower that stops gives its connection back at once.
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { TaskLogs, type LogArchive } from '@gofer/logs';

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
});
