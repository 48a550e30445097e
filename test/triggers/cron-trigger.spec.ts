import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import Docker from 'dockerode';
import type { GoferClient } from '@gofer/proto';
import { TestCluster, waitFor, type GoferProcess } from '../support/gofer-process.js';
import { apply } from '../support/runs.js';

const docker = new Docker({ socketPath: '/var/run/docker.sock' });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const SECOND = 1000;

/** One run a cron fire started, as stored. */
interface Fire {
  id: number;
  /** GOFER_TRIGGER_CRON_FIRE_TIME, unix ms. */
  fire: number;
  fireTime: string;
  missed: boolean;
  /** When Gofer created the run (unix ms): for information only, never asserted on. */
  created: number;
  startedBy: string;
}

/**
 * The built-in cron trigger (apps/trigger-cron), installed at startup and run by Gofer in its real
 * container: per-second schedules fire on time, a restart of the whole machine (Gofer and the
 * trigger's container) follows each subscription's `missed` policy, and a leader takeover neither
 * loses nor doubles a fire. Fire times, not wall-clock latencies, carry every assertion.
 */
describe('the built-in cron trigger', () => {
  let cluster: TestCluster;
  let api: GoferProcess;
  let client: GoferClient;
  /** Fire times seen while all of Gofer was down: [killed, started again]. */
  let outage: { killed: number; restarted: number } | undefined;

  beforeAll(async () => {
    cluster = await TestCluster.create('cron-trigger', { GOFER_BUILTIN_TRIGGERS: 'cron', GOFER_LEADER_LEASE: '3s' });
    api = await cluster.start('api');
    await cluster.start('worker');
    client = cluster.client(api);
    await running();
  }, 180_000);
  afterAll(async () => {
    if (process.env.DEBUG_TRIGGER) {
      for (const c of await containers()) {
        const logs = await docker.getContainer(c.Id).logs({ stdout: true, stderr: true });
        console.log(c.Status, logs.toString());
      }
    }
    await cluster?.destroy();
  });

  async function running(after?: { instanceId: string }) {
    return waitFor('the cron trigger to run', async () => {
      const { trigger } = await client.getTrigger({ name: 'cron' });
      const [row] = await cluster.query<{ instance_id: string }>(`SELECT instance_id FROM triggers WHERE name = 'cron'`);
      if (trigger?.state === 'TRIGGER_STATE_RUNNING' && row && row.instance_id !== after?.instanceId) return { ...trigger, instanceId: row.instance_id };
      throw new Error(`state ${trigger?.state}, container ${trigger?.containerId || '-'}, last error: ${trigger?.lastError || '-'}`);
    });
  }

  async function containers() {
    const clusterId = await cluster.clusterId();
    return docker.listContainers({ all: true, filters: { label: [`gofer.cluster=${clusterId}`, 'gofer.trigger=cron'] } });
  }

  /** Every run of a pipeline, by id. */
  async function fires(pipelineId: string): Promise<Fire[]> {
    const rows = await cluster.query<{ id: number; variables: Record<string, string>; created: Date; started_by: string }>(
      `SELECT id, variables, created, started_by FROM runs WHERE namespace_id = 'default' AND pipeline_id = $1 ORDER BY id`,
      [pipelineId],
    );
    return rows.map((r) => ({
      id: r.id,
      fireTime: r.variables.GOFER_TRIGGER_CRON_FIRE_TIME ?? '',
      fire: Date.parse(r.variables.GOFER_TRIGGER_CRON_FIRE_TIME ?? ''),
      missed: r.variables.GOFER_TRIGGER_CRON_MISSED === 'true',
      created: r.created.getTime(),
      startedBy: r.started_by,
    }));
  }

  /** Waits until `pipelineId` has a run for a fire after `time` (unix ms). */
  async function firedAfter(pipelineId: string, time: number): Promise<Fire[]> {
    return waitFor(`${pipelineId} to fire after ${new Date(time).toISOString()}`, async () => {
      const all = await fires(pipelineId);
      return all.some((f) => f.fire > time) ? all : undefined;
    }, 60_000);
  }

  /**
   * What holds for every run of a per-second subscription at any time: whole-second fire times, no
   * fire in two runs (the idempotency key), run ids 1…n without gaps, in fire-time order (a fire is
   * posted only after the ones before it, the catch-up first, so the checkpoint only moves forward).
   */
  function expectWellFormed(all: Fire[], label: string): void {
    for (const f of all) {
      expect(f.fireTime).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.000Z$/);
      expect(f.startedBy).toBe(`trigger/cron/${label}`);
    }
    expect(new Set(all.map((f) => f.fireTime)).size).toBe(all.length);
    expect(all.map((f) => f.id)).toEqual(all.map((_, i) => i + 1));
    for (let i = 1; i < all.length; i++) expect(all[i]!.fire, `run ${all[i]!.id}`).toBeGreaterThan(all[i - 1]!.fire);
  }

  /** Where consecutive fire times are further apart than one second: [before, after] pairs. */
  function jumps(all: Fire[]): Array<[Fire, Fire]> {
    const found: Array<[Fire, Fire]> = [];
    for (let i = 1; i < all.length; i++) if (all[i]!.fire - all[i - 1]!.fire !== SECOND) found.push([all[i - 1]!, all[i]!]);
    return found;
  }

  /** Fire-to-run-created delays (information only: machines are noisy, nothing asserts on them). */
  function report(what: string, all: Fire[]): void {
    const delays = all.filter((f) => !f.missed).map((f) => f.created - f.fire).sort((a, b) => a - b);
    if (delays.length === 0) return;
    const at = (q: number) => delays[Math.min(delays.length - 1, Math.floor(q * delays.length))];
    console.log(`${what}: ${delays.length} on-time fires, run created after its fire time: p50 ${at(0.5)} ms, max ${delays.at(-1)} ms`);
  }

  it('refuses bad settings at apply, naming each field', async () => {
    const failure = (await apply(client, `
id: bad-cron
tasks: [{ id: a, image: "busybox:latest", script: "true" }]
triggers:
  - { trigger: cron, label: bad, settings: { expression: "61 * * * *", timezone: "Mars/Olympus", missed: "sometimes" } }
`).catch((error: unknown) => error)) as Error & { code: number };
    expect(failure.code).toBe(3); // INVALID_ARGUMENT
    expect(failure.message).toContain('triggers[0].settings.expression: "61 * * * *" is not a cron expression');
    expect(failure.message).toContain('triggers[0].settings.timezone: "Mars/Olympus" is not an IANA time zone');
    expect(failure.message).toContain('triggers[0].settings.missed: "sometimes" is not a policy');

    for (const [settings, field] of [
      ['{ expression: "0 0 30 2 *" }', 'triggers[0].settings.expression: "0 0 30 2 *" never fires'],
      ['{ expression: "* * * *" }', 'triggers[0].settings.expression: "* * * *" is not a cron expression'],
      ['{ expression: "0 * * * *", timezone: "Nowhere/Else" }', 'triggers[0].settings.timezone:'],
      ['{ expression: "0 * * * *", missed: "twice" }', 'triggers[0].settings.missed:'],
      ['{ expresion: "0 * * * *" }', 'triggers[0].settings.expresion: unknown setting'],
    ] as const) {
      const refused = (await apply(client, `
id: bad-cron
tasks: [{ id: a, image: "busybox:latest", script: "true" }]
triggers: [{ trigger: cron, label: bad, settings: ${settings} }]
`).catch((error: unknown) => error)) as Error & { code: number };
      expect(refused.code, settings).toBe(3);
      expect(refused.message).toContain(field);
    }
    const { pipelines } = await client.listPipelines({ namespaceId: 'default', limit: 0, offset: 0 });
    expect(pipelines.map((p) => p.id)).not.toContain('bad-cron');
  });

  it('a per-second schedule starts one run per second, on the second, with the fire variables', async () => {
    for (const [id, missed] of [['every-skip', 'skip'], ['every-once', 'run_once']] as const) {
      await apply(client, `
id: ${id}
tasks: [{ id: a, image: "busybox:latest", script: "true" }]
triggers:
  - { trigger: cron, label: every-second, settings: { expression: "* * * * * *", missed: ${missed} } }
`);
    }
    for (const id of ['every-skip', 'every-once']) {
      const all = await waitFor(`${id} to start six runs`, async () => {
        const seen = await fires(id);
        return seen.length >= 6 ? seen : undefined;
      }, 60_000);
      expectWellFormed(all, 'every-second');
      expect(jumps(all)).toEqual([]);
      // run_once: a fire between the subscription's creation and its arrival at the trigger is a
      // missed one (docs/builtin-triggers.md), so the very first run may be a catch-up; none after it.
      const missed = all.filter((f) => f.missed).map((f) => f.id);
      expect(missed).toEqual(id === 'every-once' && all[0]!.missed ? [1] : []);
      report(id, all);
    }
    // The API shows them the same way.
    const { run } = await client.getRun({ namespaceId: 'default', pipelineId: 'every-skip', runId: 2 });
    const [first] = await fires('every-skip');
    expect(run!.startedBy).toBe('trigger/cron/every-second');
    expect(run!.variables).toEqual({
      GOFER_TRIGGER_CRON_FIRE_TIME: new Date(first!.fire + SECOND).toISOString(),
      GOFER_TRIGGER_CRON_EXPRESSION: '* * * * * *',
      GOFER_TRIGGER_CRON_TIMEZONE: 'UTC',
      GOFER_TRIGGER_CRON_MISSED: 'false',
    });
  });

  it('after Gofer and the trigger container are down for seconds, skip starts nothing for the gap and run_once exactly one run', async () => {
    const before = await running();
    const [container] = await containers();
    expect(container?.Id).toBe(before.containerId);
    // A machine going down: every Gofer process and the trigger's container die at once.
    const killed = Date.now();
    await Promise.all([
      ...cluster.processes.map((p) => p.kill('SIGKILL')),
      docker.getContainer(before.containerId).kill(),
    ]);
    const down = Date.now();
    await sleep(4000);
    const restarted = Date.now();
    outage = { killed: down, restarted };
    // Back where they were: the trigger's container still holds GOFER_HOST=<the API's address>.
    api = await cluster.start('api', { GOFER_GRPC_ADDR: api.grpcAddr, GOFER_HTTP_ADDR: api.httpAddr });
    await cluster.start('worker');
    client = cluster.client(api);
    const after = await running(before);
    // The supervisor started the stopped container again and sent it every subscription with its checkpoint.
    expect(after.containerId).toBe(before.containerId);
    expect(await containers()).toHaveLength(1);
    console.log(`outage: killed at ${new Date(killed).toISOString()} (all down by ${new Date(down).toISOString()}), started again at ${new Date(restarted).toISOString()}`);

    for (const id of ['every-skip', 'every-once']) {
      // Three on-time fires after the restart.
      const ready = await firedAfter(id, Date.now() + 2 * SECOND);
      const all = ready.filter((f) => f.id !== 1 || !f.missed);
      expectWellFormed(ready, 'every-second');
      const onTime = all.filter((f) => !f.missed);
      // One gap in the on-time fires: it spans the outage, give or take the documented second at each
      // edge (a fire due as Gofer died may have been accepted; the first fire after is the first due
      // once the subscription is back, after the processes started).
      const gaps = jumps(onTime);
      expect(gaps, `${id} on-time fires: ${onTime.map((f) => f.fireTime.slice(11, 19)).join(' ')}`).toHaveLength(1);
      const [[last, next]] = gaps as [[Fire, Fire]];
      expect(last.fire).toBeLessThanOrEqual(down + SECOND);
      expect(next.fire).toBeGreaterThanOrEqual(restarted - SECOND);
      expect(all.filter((f) => f.fire > down + SECOND && f.fire < restarted - SECOND && !f.missed)).toEqual([]);
      const caughtUp = all.filter((f) => f.missed);
      const hms = (f: Fire) => f.fireTime.slice(11, 19);
      console.log(`${id}: last fire before the gap ${hms(last)}, first on time after it ${hms(next)}, caught up: ${caughtUp.map(hms).join(' ') || 'none'}`);
      if (id === 'every-skip') {
        // Nothing at all for the gap.
        expect(all.filter((f) => f.fire > last.fire && f.fire < next.fire)).toEqual([]);
        expect(caughtUp).toEqual([]);
      } else {
        // Exactly one run, for the latest missed fire: the one just before the first on-time fire.
        expect(caughtUp.map((f) => f.fireTime)).toEqual([new Date(next.fire - SECOND).toISOString()]);
        expect(caughtUp[0]!.fire).toBeGreaterThan(last.fire);
        expect(caughtUp[0]!.fire).toBeGreaterThan(down);
        expect(jumps(all)).toHaveLength(1);
      }
      report(`${id} (after the restart)`, all.filter((f) => f.fire > restarted));
    }
  });

  it('a SIGKILLed leader is replaced within the lease by another worker, which adopts the container: no fire lost or doubled', async () => {
    expect(outage, 'runs after the restart test').toBeDefined();
    await cluster.start('worker');
    const lease = async () => (await cluster.query<{ holder: string; token: string }>(`SELECT holder, token FROM leases WHERE duty = 'triggers'`))[0]!;
    const { holder, token } = await lease();
    const leader = cluster.processes.find((p) => p.workerId === holder && p.child.exitCode === null && p.child.signalCode === null);
    expect(leader?.roles).toBe('worker');
    const before = await running();
    const killed = Date.now();
    await leader!.kill('SIGKILL');
    const next = await waitFor('another worker to take the lease', async () => {
      const now = await lease();
      return now.holder !== holder ? now : undefined;
    }, 30_000);
    const tookOver = Date.now();
    console.log(`takeover: lease moved ${tookOver - killed} ms after the leader was killed (lease 3 s)`);
    expect(Number(next.token)).toBe(Number(token) + 1);
    const survivor = cluster.processes.find((p) => p.workerId === next.holder)!;
    expect(survivor.child.exitCode).toBeNull();
    // Give the new leader a few supervision passes: it must adopt, not start a second container.
    for (const id of ['every-skip', 'every-once']) await firedAfter(id, Date.now() + 3 * SECOND);
    const after = await running();
    expect(after.containerId).toBe(before.containerId);
    expect(after.instanceId).toBe(before.instanceId);
    expect(await containers()).toHaveLength(1);

    for (const id of ['every-skip', 'every-once']) {
      const all = await fires(id);
      expectWellFormed(all, 'every-second');
      // From the first on-time fire after the restart on, every second has exactly one run.
      const since = all.filter((f) => f.fire > outage!.restarted + SECOND && !f.missed);
      expect(since[0]!.fire).toBeLessThan(killed - SECOND);
      expect(since.at(-1)!.fire).toBeGreaterThan(tookOver + SECOND);
      expect(jumps(all.filter((f) => f.fire >= since[0]!.fire))).toEqual([]);
      expect(all.filter((f) => f.fire >= since[0]!.fire && f.missed)).toEqual([]);
      report(`${id} (across the takeover)`, all.filter((f) => f.fire > killed - 2 * SECOND));
    }
  });
});
