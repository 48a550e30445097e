// Issue 10's chaos suite, killed processes: each API replica and one worker SIGKILLed under load, then
// both workers at once (restarted after). Shared checks and the report: test/support/chaos.ts.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Chaos } from '../support/chaos.js';

/** How long both workers stay dead: long enough that every running attempt is stranded. */
const BOTH_DEAD_MS = 3_000;

describe('chaos: SIGKILLed processes', () => {
  let chaos: Chaos;
  beforeAll(async () => {
    chaos = await Chaos.start('kills');
  }, 180_000);
  afterAll(async () => {
    chaos?.writeReport();
    await chaos?.destroy();
  }, 120_000);

  it.each([1, 2])('SIGKILL of API replica api-%i: the balancer and the CLI move to the other, nothing is lost', async (n) => {
    const outcome = await chaos.scenario(`SIGKILL api-${n}`, {
      inject: (c) => c.killApi(n - 1),
    });
    expect(outcome.problems).toEqual([]);
  }, 300_000);

  it('SIGKILL of the busiest worker: another adopts its attempts, each container created once', async () => {
    const outcome = await chaos.scenario('SIGKILL a worker', {
      inject: async (c) => c.killWorker(await c.busiestWorker()),
    });
    expect(outcome.problems).toEqual([]);
  }, 300_000);

  it('SIGKILL of both workers at once, restarted 3 s later: their attempts are adopted, not rerun', async () => {
    const outcome = await chaos.scenario('SIGKILL both workers, restart', {
      inject: async (c) => {
        await Promise.all([c.killWorker(0), c.killWorker(1)]);
      },
      holdMs: BOTH_DEAD_MS,
      restore: async (c) => {
        await Promise.all([c.startWorker(0), c.startWorker(1)]);
      },
    });
    expect(outcome.problems).toEqual([]);
  }, 300_000);
});
