// Triggers and notifiers with GOFER_SCHEDULER=nomad, against the Nomad API stand-in (apps/nomad-dev,
// which runs each job's docker task as a real container): the built-in cron trigger runs as a Nomad
// service job whose address Gofer reads back from the allocation, Nomad (not Gofer) restarts it when
// its process dies, and the built-in webhook notifier runs as a batch job when a run ends. The Docker
// counterparts are test/triggers/cron-trigger.spec.ts and test/e2e/notifiers.spec.ts; the images are
// the shared built-in ones (scripts/test-images.mjs, scripts/extension-images.mjs).
import { createServer, type IncomingHttpHeaders, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GoferClient, InstalledTrigger, Run } from '@gofer/proto';
import { metaFilter } from '../../libs/scheduler/src/nomad/nomad.scheduler.js';
import type { NomadAllocationListStub } from '../../libs/scheduler/src/nomad/nomad.types.js';
import { TestCluster, waitFor } from '../support/gofer-process.js';
import { crashAllocation, startTestNomad, type TestNomad } from '../support/nomad.js';
import { apply, startRun, waitForRun } from '../support/runs.js';

/** The one task of every job Gofer registers (nomad.scheduler.ts). */
const TASK = 'task';

/** A per-second cron subscription: the shortest schedule the cron trigger supports. */
const EVERY_SECOND = `
id: every-second
tasks: [{ id: a, image: "busybox:latest", script: "true" }]
triggers:
  - { trigger: cron, label: tick, settings: { expression: "* * * * * *", missed: skip } }
`;

/** One request the receiver got. */
interface Received {
  headers: IncomingHttpHeaders;
  body: string;
}

/**
 * An HTTP endpoint on the loopback (containers share the host's network here) that records each
 * request; while `hold` is set it keeps the answer back, so the notifier's job stays running while
 * the test reads it from Nomad.
 */
class Receiver {
  readonly requests: Received[] = [];
  hold = false;
  private held: ServerResponse[] = [];
  private constructor(private readonly server: Server) {}

  static async start(): Promise<Receiver> {
    const server = createServer();
    const receiver = new Receiver(server);
    server.on('request', (request, response) => {
      let body = '';
      request.on('data', (chunk: Buffer) => (body += chunk.toString('utf8')));
      request.on('end', () => {
        receiver.requests.push({ headers: request.headers, body });
        if (receiver.hold) receiver.held.push(response);
        else response.writeHead(200).end();
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return receiver;
  }

  get url(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/hook`;
  }

  release(): void {
    this.hold = false;
    for (const response of this.held.splice(0)) response.writeHead(200).end();
  }

  async close(): Promise<void> {
    this.release();
    this.server.closeAllConnections();
    await new Promise((resolve) => this.server.close(resolve));
  }
}

describe('triggers and notifiers on Nomad', () => {
  let nomad: TestNomad;
  let cluster: TestCluster;
  let client: GoferClient;
  let clusterId: string;
  let receiver: Receiver | undefined;

  beforeAll(async () => {
    nomad = await startTestNomad();
    cluster = await TestCluster.create('extensions-nomad', { ...nomad.env, GOFER_BUILTIN_TRIGGERS: 'cron', GOFER_BUILTIN_NOTIFIERS: 'webhook' });
    client = cluster.client(await cluster.start());
    clusterId = await cluster.clusterId();
  }, 180_000);
  afterAll(async () => {
    await receiver?.close();
    await cluster?.destroy();
    await nomad?.standIn.close();
  });

  /** The Nomad job ID of the cron trigger: its container name (libs/queue/src/extension-keys.ts). */
  const triggerJobId = () => `gofer.${clusterId.slice(0, 8)}.trigger.cron`;

  /** Waits until Gofer reports the cron trigger running (with an instance other than `after`). */
  async function triggerRunning(after?: string): Promise<InstalledTrigger & { instanceId: string }> {
    return waitFor('the cron trigger to run', async () => {
      const { trigger } = await client.getTrigger({ name: 'cron' });
      const [row] = await cluster.query<{ instance_id: string | null }>(`SELECT instance_id FROM triggers WHERE name = 'cron'`);
      if (trigger?.state === 'TRIGGER_STATE_RUNNING' && row?.instance_id && row.instance_id !== after) return { ...trigger, instanceId: row.instance_id };
      throw new Error(`state ${trigger?.state}, container ${trigger?.containerId || '-'}, last error: ${trigger?.lastError || '-'}`);
    });
  }

  /** The trigger job's allocations (the stand-in places one per registration). */
  async function triggerAllocations(): Promise<NomadAllocationListStub[]> {
    return (await nomad.client.jobAllocations(triggerJobId())).value;
  }

  /** The runs of `every-second` with the fire time the cron trigger gave each (unix ms). */
  async function fires(): Promise<Array<{ id: number; fire: number; startedBy: string }>> {
    const rows = await cluster.query<{ id: number; variables: Record<string, string>; started_by: string }>(
      `SELECT id, variables, started_by FROM runs WHERE namespace_id = 'default' AND pipeline_id = 'every-second' ORDER BY id`,
    );
    return rows.map((r) => ({ id: r.id, fire: Date.parse(r.variables.GOFER_TRIGGER_CRON_FIRE_TIME ?? ''), startedBy: r.started_by }));
  }

  /** Waits for a run of a fire after `time` (unix ms) and for it to complete; returns it. */
  async function completedFireAfter(time: number): Promise<Run> {
    const fire = await waitFor(`every-second to fire after ${new Date(time).toISOString()}`, async () => (await fires()).find((f) => f.fire > time), 60_000);
    const { run, tasks } = await waitForRun(client, 'every-second', fire.id);
    expect(run.status).toBe('RUN_STATUS_SUCCESSFUL');
    expect(tasks.a?.status).toBe('TASK_RUN_STATUS_SUCCESSFUL');
    expect(run.startedBy).toBe('trigger/cron/tick');
    return run;
  }

  it('runs the cron trigger as a Nomad service job and its per-second schedule starts runs that complete', async () => {
    const trigger = await triggerRunning();
    const id = triggerJobId();
    expect(trigger.containerId).toBe(id);
    const [{ generation }] = (await cluster.query<{ generation: number }>(`SELECT generation FROM triggers WHERE name = 'cron'`)) as [{ generation: number }];
    const labels = { 'gofer.cluster': clusterId, 'gofer.trigger': 'cron', 'gofer.trigger.generation': String(generation) };

    // One service job, named for the trigger, carrying Gofer's labels as its Meta.
    const job = await nomad.client.job(id);
    expect(job).toMatchObject({ ID: id, Type: 'service', Stop: false, Status: 'running' });
    expect(job!.Meta).toEqual(labels);
    expect(job!.TaskGroups[0]!.Tasks[0]!.Config.image).toBe(trigger.image);
    const listed = await nomad.client.listJobs({ filter: metaFilter({ 'gofer.cluster': clusterId, 'gofer.trigger': 'cron' }), meta: true });
    expect(listed.map((j) => ({ ID: j.ID, Type: j.Type, Meta: j.Meta }))).toEqual([{ ID: id, Type: 'service', Meta: labels }]);

    // Its one allocation runs the task, and Gofer dials the trigger at the port Nomad allocated for it.
    const allocs = await triggerAllocations();
    expect(allocs).toHaveLength(1);
    expect(allocs[0]).toMatchObject({ ClientStatus: 'running', DesiredStatus: 'run' });
    expect(allocs[0]!.TaskStates?.[TASK]?.State).toBe('running');
    const { value: alloc } = await nomad.client.allocation(allocs[0]!.ID);
    const port = alloc!.AllocatedResources?.Shared?.Ports?.find((p) => p.Label === 'gofer');
    expect(port, 'the allocation has a port labelled "gofer"').toBeDefined();
    expect(trigger.address).toBe(`${port!.HostIP}:${port!.Value}`);
    expect(nomad.standIn.registrations(id)).toBe(1);

    // A pipeline subscribed to it gets a run per second, each with its fire time, and they complete.
    const applied = Date.now();
    await apply(client, EVERY_SECOND);
    for (let i = 0; i < 3; i++) await completedFireAfter(applied + i * 1000);
    const all = await fires();
    expect(all.every((f) => f.startedBy === 'trigger/cron/tick' && f.fire % 1000 === 0)).toBe(true);
    expect(new Set(all.map((f) => f.fire)).size).toBe(all.length);
  });

  it('Nomad restarts the trigger in place when its process is killed, and runs keep being triggered', async () => {
    const before = await triggerRunning();
    const [alloc] = await triggerAllocations();
    expect(alloc?.TaskStates?.[TASK]?.Restarts).toBe(0);

    // A crash from outside: SIGKILL of the container's process.
    await crashAllocation(alloc!.ID);
    const killed = Date.now();

    // The same allocation runs its task again (the service job's restart policy): nothing was re-placed.
    const restarted = await waitFor('Nomad to restart the trigger task', async () => {
      const allocs = await triggerAllocations();
      const state = allocs[0]?.TaskStates?.[TASK];
      return allocs.length === 1 && state?.State === 'running' && (state.Restarts ?? 0) >= 1 ? allocs[0]! : undefined;
    }, 60_000);
    expect(restarted.ID).toBe(alloc!.ID);
    expect(restarted.ClientStatus).toBe('running');
    const events = restarted.TaskStates![TASK]!.Events ?? [];
    expect(events.map((e) => e.Type)).toEqual(expect.arrayContaining(['Terminated', 'Restarting', 'Started']));
    expect(events.find((e) => e.Type === 'Terminated')?.ExitCode).toBe(137);
    // Gofer left the restart to Nomad: the job was registered once, and is still the only one.
    expect(nomad.standIn.registrations(triggerJobId())).toBe(1);
    expect((await nomad.client.listJobs({ filter: metaFilter({ 'gofer.trigger': 'cron' }) })).map((j) => j.ID)).toEqual([triggerJobId()]);

    // The new process got its subscriptions again (a new instance id) and starts runs that complete.
    const after = await triggerRunning(before.instanceId);
    expect(after.containerId).toBe(before.containerId);
    expect(after.address).toBe(before.address);
    expect(after.restarts).toBeGreaterThanOrEqual(1);
    // A fire after the kill can only come from the restarted process.
    await completedFireAfter(killed);
    await completedFireAfter(killed + 1000);

    // Stop firing: the webhook test does not need a run a second.
    await client.disablePipeline({ namespaceId: 'default', id: 'every-second' });
  });

  it('runs the webhook notifier as a Nomad batch job when a run ends; it delivers the run summary and completes', async () => {
    receiver = await Receiver.start();
    receiver.hold = true; // the notifier's job stays running until the test has read it
    await apply(client, `
id: notified
tasks: [{ id: a, image: "busybox:latest", script: "echo fine" }]
notifiers:
  - { notifier: webhook, label: hook, settings: { url: "${receiver.url}", timeout_seconds: "300" } }
`);
    const started = await startRun(client, 'notified');
    const { run } = await waitForRun(client, 'notified', started.id);
    expect(run.status).toBe('RUN_STATUS_SUCCESSFUL');
    await waitFor('the webhook to be called', async () => (receiver!.requests.length > 0 ? true : undefined));

    // While the POST is held, the notifier is a batch job named for the notification, with Gofer's labels.
    const id = `gofer.${clusterId.slice(0, 8)}.default.notified.${started.id}.notify.hook`;
    const labels = { 'gofer.cluster': clusterId, 'gofer.namespace': 'default', 'gofer.pipeline': 'notified', 'gofer.run': String(started.id), 'gofer.notifier': 'hook' };
    const job = await nomad.client.job(id);
    expect(job).toMatchObject({ ID: id, Type: 'batch', Stop: false });
    expect(job!.Meta).toEqual(labels);
    const listed = await nomad.client.listJobs({ filter: metaFilter({ 'gofer.cluster': clusterId, 'gofer.notifier': 'hook' }), meta: true });
    expect(listed.map((j) => ({ ID: j.ID, Type: j.Type, Meta: j.Meta }))).toEqual([{ ID: id, Type: 'batch', Meta: labels }]);
    const allocs = (await nomad.client.jobAllocations(id)).value;
    expect(allocs).toHaveLength(1);
    expect(allocs[0]!.ClientStatus).toBe('running');
    const allocId = allocs[0]!.ID;

    receiver.release();
    const done = await waitFor(`the notification of run ${started.id}`, async () => {
      const { run } = await client.getRun({ namespaceId: 'default', pipelineId: 'notified', runId: started.id });
      const [notification] = run?.notifications ?? [];
      return notification?.state === 'NOTIFICATION_STATE_COMPLETE' ? notification : undefined;
    });
    expect(done).toMatchObject({ label: 'hook', notifier: 'webhook', status: 'NOTIFICATION_STATUS_SUCCESSFUL', exitCode: 0, hasExitCode: true, reason: '' });

    // One POST, naming the run.
    expect(receiver.requests).toHaveLength(1);
    const [request] = receiver.requests;
    expect(request!.headers['x-gofer-delivery']).toBe(`default/notified/${started.id}/hook`);
    expect(JSON.parse(request!.body)).toMatchObject({ namespace: 'default', pipeline: 'notified', run: started.id, status: 'successful' });

    // Its allocation completed with the task's exit code 0; once the result is recorded Gofer removes the job.
    const { value: alloc } = await nomad.client.allocation(allocId);
    expect(alloc).toMatchObject({ JobID: id, ClientStatus: 'complete' });
    expect(alloc!.Job?.Type).toBe('batch');
    expect(alloc!.TaskStates?.[TASK]?.Events?.findLast((e) => e.Type === 'Terminated')?.ExitCode).toBe(0);
    await waitFor('the notifier job to be removed', async () => ((await nomad.client.job(id)) ? undefined : true));
    expect(nomad.standIn.registrations(id)).toBe(1);
  });
});
