// Issue 10's chaos suite, Redis: restarted mid-run (AOF on, as production runs it: the queue survives),
// flushed mid-run (the queue does not: the reconciler rebuilds it from Postgres), and one worker cut off
// from it for 20 s through a FaultProxy. The file's Redis is its own
// (test/support/dedicated-services.ts). Shared checks and the report: test/support/chaos.ts.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Chaos } from '../support/chaos.js';

/** How long the worker is cut off (issue 10's scenario). */
const CUT_MS = 20_000;

describe('chaos: Redis restarted, flushed and cut off', () => {
  let chaos: Chaos;
  beforeAll(async () => {
    chaos = await Chaos.start('redis', { redisProxy: true });
  }, 180_000);
  afterAll(async () => {
    chaos?.writeReport();
    await chaos?.destroy();
  }, 120_000);

  it('Redis restarted mid-run (SHUTDOWN, start on its AOF): the queue survives, every run completes', async () => {
    const outcome = await chaos.scenario('Redis restart', {
      inject: (c) => c.redis.restart(),
    });
    expect(outcome.problems).toEqual([]);
  }, 300_000);

  it('FLUSHALL mid-run: the reconciler re-enqueues from Postgres, every run completes', async () => {
    const outcome = await chaos.scenario('Redis FLUSHALL', {
      inject: async (c) => {
        await c.redis.command('FLUSHALL');
      },
    });
    expect(outcome.problems).toEqual([]);
  }, 300_000);

  it('worker-2 cut off from Redis for 20 s: it survives and serves again, nothing lost or run twice', async () => {
    const outcome = await chaos.scenario('worker-2 cut off from Redis 20 s', {
      inject: async (c) => c.redisProxy!.drop(),
      holdMs: CUT_MS,
      restore: async (c) => {
        c.redisProxy!.restore();
        c.note(`worker-2 ${c.workers[1].child.exitCode === null && c.workers[1].child.signalCode === null ? 'survived' : 'exited during'} the cut`);
      },
    });
    expect(outcome.problems).toEqual([]);
    expect(chaos.workers[1].child.exitCode).toBe(null);
  }, 300_000);
});
