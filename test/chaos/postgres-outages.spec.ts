// Issue 10's chaos suite, Postgres: restarted mid-run (`pg_ctlcluster … restart`), then stopped for 20 s
// and started again; and the log cap and object size limit filled under load. The file's Postgres is its
// own (test/support/dedicated-services.ts): the machine's shared one serves other test files meanwhile.
// Shared checks and the report: test/support/chaos.ts.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Chaos } from '../support/chaos.js';

/** How long Postgres stays stopped (issue 10's scenario). */
const STOPPED_MS = 20_000;

describe('chaos: Postgres restarted and stopped, limits filled', () => {
  let chaos: Chaos;
  beforeAll(async () => {
    chaos = await Chaos.start('postgres');
  }, 180_000);
  afterAll(async () => {
    chaos?.writeReport();
    await chaos?.destroy();
  }, 120_000);

  it('pg_ctlcluster restart mid-run: every process reconnects, every run completes as its DAG says', async () => {
    const outcome = await chaos.scenario('Postgres restart', {
      inject: (c) => c.postgres.ctl('restart'),
    });
    expect(outcome.problems).toEqual([]);
  }, 300_000);

  it('Postgres stopped for 20 s, then started: nothing lost, nothing run twice, no process leaks', async () => {
    const outcome = await chaos.scenario('Postgres stopped 20 s', {
      inject: (c) => c.postgres.ctl('stop'),
      holdMs: STOPPED_MS,
      restore: (c) => c.postgres.ctl('start'),
    });
    expect(outcome.problems).toEqual([]);
  }, 300_000);

  it('log cap and object size limit filled under load: the hogs fail or truncate, everything else runs', async () => {
    const outcome = await chaos.scenario('log cap and object limit filled', { inject: async () => undefined }, ['dag', 'hogs', 'timeouts', 'hogs', 'cancels']);
    expect(outcome.problems).toEqual([]);
  }, 300_000);
});
