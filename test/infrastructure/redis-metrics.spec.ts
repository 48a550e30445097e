import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { Registry } from 'prom-client';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { RedisMetrics } from '../../apps/gofer/src/service/redis.metrics.js';
import { FaultProxy } from '../support/fault-proxy.js';
import { waitFor } from '../support/gofer-process.js';

const REDIS_PORT = 6379;
const PREFIX = `goferTest_redismetrics_${randomBytes(3).toString('hex')}`;

/** Commands timed by `command` label, and failures by kind, so far. */
async function sample(registry: Registry): Promise<{ timed: Record<string, number>; errors: Record<string, number> }> {
  const metrics = await registry.getMetricsAsJSON();
  const values = (name: string) =>
    metrics.find((m) => m.name === name)!.values as Array<{ value: number; labels: Record<string, string>; metricName?: string }>;
  return {
    timed: Object.fromEntries(values('gofer_redis_command_duration_seconds')
      .filter((v) => v.metricName === 'gofer_redis_command_duration_seconds_count').map((v) => [v.labels.command, v.value])),
    errors: Object.fromEntries(values('gofer_redis_errors_total').map((v) => [v.labels.kind, v.value])),
  };
}

/**
 * RedisMetrics (apps/gofer/src/service/redis.metrics.ts) on real Redis connections: commands timed by
 * a bounded name, blocking reads left out, duplicates measured too, and failures counted by kind
 * (connection: through a fault proxy that resets the connection).
 */
describe('Redis metrics', () => {
  const connections: Redis[] = [];
  const proxies: FaultProxy[] = [];
  function connect(metrics: RedisMetrics, port = REDIS_PORT): Redis {
    const redis = metrics.instrument(new Redis({ port, host: '127.0.0.1', maxRetriesPerRequest: null, retryStrategy: () => 100 }));
    connections.push(redis);
    return redis;
  }
  afterEach(async () => {
    for (const redis of connections.splice(0)) redis.disconnect();
    await Promise.all(proxies.splice(0).map((p) => p.close()));
  });
  afterAll(async () => {
    const redis = new Redis({ port: REDIS_PORT, host: '127.0.0.1' });
    const keys = await redis.keys(`${PREFIX}:*`);
    if (keys.length > 0) await redis.del(...keys);
    redis.disconnect();
  });

  it('times commands by name (others as "other"), over duplicates too, and leaves blocking reads out', async () => {
    const registry = new Registry();
    const metrics = new RedisMetrics(registry);
    expect((await sample(registry)).errors).toEqual({ connection: 0, command: 0 });
    const redis = connect(metrics);
    await redis.set(`${PREFIX}:a`, '1');
    await redis.get(`${PREFIX}:a`);
    await redis.call('STRLEN', `${PREFIX}:a`);
    // A Lua script as BullMQ runs them: EVALSHA (falling back to EVAL the first time, as this one is new).
    redis.defineCommand('goferTestEcho', { numberOfKeys: 1, lua: `-- ${PREFIX}\nreturn KEYS[1]` });
    expect(await (redis as unknown as { goferTestEcho(key: string): Promise<string> }).goferTestEcho(`${PREFIX}:k`)).toBe(`${PREFIX}:k`);
    await redis.xadd(`${PREFIX}:s`, '*', 'line', 'x');
    await redis.xread('COUNT', 10, 'STREAMS', `${PREFIX}:s`, '0'); // not blocking: timed
    const copy = connections[connections.push(redis.duplicate()) - 1]!;
    await copy.get(`${PREFIX}:a`);
    // Blocking reads wait for work by design: not timed.
    expect(await copy.xread('BLOCK', 100, 'STREAMS', `${PREFIX}:s`, '$')).toBe(null);
    expect(await copy.bzpopmin(`${PREFIX}:z`, 0.1)).toBe(null);

    const { timed, errors } = await sample(registry);
    expect(timed).toMatchObject({ set: 1, get: 2, other: 1, xadd: 1, xread: 1 });
    expect(timed.evalsha).toBeGreaterThanOrEqual(1);
    expect(Object.keys(timed)).not.toContain('bzpopmin');
    expect(Object.keys(timed)).not.toContain('strlen');
    expect(errors).toEqual({ connection: 0, command: 0 });
  });

  it('counts a failed command, but not one cut by closing its connection on purpose', async () => {
    const registry = new Registry();
    const metrics = new RedisMetrics(registry);
    const redis = connect(metrics);
    await redis.set(`${PREFIX}:text`, 'not a number');
    await expect(redis.incr(`${PREFIX}:text`)).rejects.toThrow(/not an integer/);
    expect((await sample(registry)).errors).toEqual({ connection: 0, command: 1 });

    // A log follower stops: its connection is closed under a blocking XREAD.
    const follower = redis.duplicate();
    await follower.ping();
    const blocked = follower.xread('BLOCK', 5000, 'STREAMS', `${PREFIX}:s2`, '$');
    await new Promise((resolve) => setTimeout(resolve, 100));
    follower.disconnect();
    await expect(blocked).rejects.toThrow(/Connection is closed/);
    expect((await sample(registry)).errors).toEqual({ connection: 0, command: 1 });
  });

  it('counts connections that break or cannot be made, and carries on once Redis is back', async () => {
    const proxy = await FaultProxy.start({ port: REDIS_PORT });
    proxies.push(proxy);
    const registry = new Registry();
    const metrics = new RedisMetrics(registry);
    const redis = connect(metrics, proxy.port);
    const follower = redis.duplicate();
    connections.push(follower);
    await redis.set(`${PREFIX}:b`, '2');
    await follower.ping();
    proxy.drop(); // both connections reset, reconnections refused
    await waitFor('broken connections to be counted', async () => ((await sample(registry)).errors.connection >= 4 ? true : undefined), 10_000);
    const pending = redis.get(`${PREFIX}:b`); // waits for the connection to come back
    proxy.restore();
    expect(await pending).toBe('2');
    expect(await follower.ping()).toBe('PONG');
    const { errors, timed } = await sample(registry);
    expect(errors.command).toBe(0); // the command waited out the outage instead of failing
    expect(timed.get).toBe(1);
  });
});
