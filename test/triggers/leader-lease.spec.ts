import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pino from 'pino';
import { LeasesRepository, openDataSource, TriggersRepository, type DataSource } from '@gofer/dal';
import { LeaderLease } from '@gofer/triggers';
import { createTestDatabase } from '../support/database.js';
import { waitFor } from '../support/gofer-process.js';

const silent = pino({ level: 'silent' });

/** The `triggers` duty's lease and the fencing of what a leader writes, on a real Postgres. */
describe('leader lease', () => {
  let db: { url: string; drop: () => Promise<void> };
  let dataSource: DataSource;
  let leases: LeasesRepository;
  let triggers: TriggersRepository;

  beforeAll(async () => {
    db = await createTestDatabase('leader_lease');
    dataSource = await openDataSource(db.url);
    leases = new LeasesRepository(dataSource);
    triggers = new TriggersRepository(dataSource);
  });
  afterAll(async () => {
    await dataSource?.destroy();
    await db?.drop();
  });

  it('grants one holder at a time; the token grows only when the lease changes hands', async () => {
    expect(await leases.acquire('duty-a', 'one', 60_000)).toBe(1);
    expect(await leases.acquire('duty-a', 'two', 60_000)).toBeUndefined();
    expect(await leases.acquire('duty-a', 'one', 60_000)).toBe(1); // a renewal keeps the token
    await leases.release('duty-a', 'one', 1);
    expect(await leases.acquire('duty-a', 'two', 60_000)).toBe(2);
    expect(await leases.current('duty-a')).toEqual({ holder: 'two', token: 2 });
  });

  it('concurrent candidates: exactly one wins', async () => {
    const results = await Promise.all(Array.from({ length: 10 }, (_, i) => leases.acquire('duty-b', `candidate-${i}`, 60_000)));
    expect(results.filter((token) => token !== undefined)).toEqual([1]);
  });

  it('an expired lease is taken over, and the old holder\'s fenced writes change nothing', async () => {
    const trigger = await triggers.upsert({ name: 'fenced', image: 'x:1', settings: {}, key: 'k', builtin: false });
    const oldToken = (await leases.acquire('triggers', 'old', 200))!;
    const old = { duty: 'triggers', holder: 'old', token: oldToken };
    const seen = { state: 'running' as const, containerId: 'c1', address: '127.0.0.1:1', restarts: 0, lastError: '' };
    expect(await triggers.observe('fenced', trigger.generation, old, seen)).toBe(true);
    await new Promise((r) => setTimeout(r, 300));
    const newToken = (await leases.acquire('triggers', 'new', 60_000))!;
    expect(newToken).toBe(oldToken + 1);
    // The old leader wakes up and writes: refused by the fence.
    expect(await triggers.observe('fenced', trigger.generation, old, { ...seen, containerId: 'stale' })).toBe(false);
    expect(await triggers.observe('fenced', trigger.generation, { duty: 'triggers', holder: 'new', token: newToken }, { ...seen, containerId: 'c2' })).toBe(true);
    expect((await triggers.get('fenced'))!.containerId).toBe('c2');
    // A write for an older install (generation) is refused too.
    await triggers.upsert({ name: 'fenced', image: 'x:2', settings: {}, key: 'k', builtin: false });
    expect(await triggers.observe('fenced', trigger.generation, { duty: 'triggers', holder: 'new', token: newToken }, { ...seen, containerId: 'c3' })).toBe(false);
  });

  it('LeaderLease: one of two processes leads; when it stops, the other takes over with a higher token', async () => {
    const changes: string[] = [];
    // A lease long enough that renewals (every second) are never overdue on a loaded machine.
    const a = new LeaderLease(leases, 'duty-c', 'a', 3000, silent, undefined, (leading) => changes.push(`a:${leading}`));
    const b = new LeaderLease(leases, 'duty-c', 'b', 3000, silent, undefined, (leading) => changes.push(`b:${leading}`));
    a.start();
    const first = await waitFor('a to lead', async () => a.fence);
    b.start();
    // b asks at once and then every second; while a renews, b never leads.
    await waitFor('a to hold the lease while b asks', async () => {
      const rows = await dataSource.query(`SELECT 1 FROM leases WHERE duty = 'duty-c' AND holder = 'a' AND expires > now()`);
      return rows.length === 1 && changes.length === 1 ? true : undefined;
    });
    expect(b.fence).toBeUndefined();
    await a.stop();
    expect(a.fence).toBeUndefined();
    const taken = await waitFor('b to lead', async () => b.fence);
    expect(taken.token).toBe(first.token + 1);
    await b.stop();
    expect(changes).toEqual(['a:true', 'a:false', 'b:true', 'b:false']);
  });

  it('another holder taking the lease deposes the old one at its next renewal', async () => {
    const lease = new LeaderLease(leases, 'duty-d', 'x', 900, silent);
    lease.start();
    await waitFor('x to lead', async () => lease.fence);
    await dataSource.query(`UPDATE leases SET holder = 'y', token = token + 1 WHERE duty = 'duty-d'`);
    await waitFor('x to notice', async () => (lease.fence === undefined ? true : undefined), 5000);
    await lease.stop();
  });

  it('a leader that cannot reach Postgres stops acting before its lease can expire', async () => {
    // Pure timing logic: a repository whose renewals fail after the first grant (a lost connection).
    let calls = 0;
    const unreachable = {
      acquire: async () => {
        if (calls++ === 0) return 7;
        throw new Error('connection terminated');
      },
      release: async () => undefined,
    } as unknown as LeasesRepository;
    const ttl = 900;
    const lease = new LeaderLease(unreachable, 'duty-e', 'x', ttl, silent);
    const granted = Date.now();
    lease.start();
    expect((await waitFor('x to lead', async () => lease.fence)).token).toBe(7);
    await waitFor('x to give up', async () => (lease.fence === undefined ? true : undefined), 5000);
    // It gave up on its own clock, counted from the grant: no later than the lease could have expired.
    expect(calls).toBeGreaterThan(1);
    expect(Date.now() - granted).toBeGreaterThan((ttl * 2) / 3);
    await lease.stop();
  });
});
