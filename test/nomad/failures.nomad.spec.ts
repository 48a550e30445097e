// Cancellation and scheduler failures with GOFER_SCHEDULER=nomad, against the Nomad API stand-in: the
// outcomes test/e2e/cancel-and-failures.spec.ts proves on Docker, plus the failures only Nomad has (a
// placement Nomad refuses, an allocation lost with its node). Outcomes are read through the gRPC API,
// what Nomad was left with through its own HTTP API.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GoferClient } from '@gofer/proto';
import { taskContainerName } from '@gofer/queue';
import type { NomadAllocationListStub } from '../../libs/scheduler/src/nomad/nomad.types.js';
import { TestCluster, waitFor } from '../support/gofer-process.js';
import { startTestNomad, type TestNomad } from '../support/nomad.js';
import { apply, readLogs, startRun, waitForRun } from '../support/runs.js';

/** What Nomad says when the stand-in's injected placement failure filters out its 3 nodes. */
const CONSTRAINT_FILTERED = 'constraint "${attr.kernel.name} = windows": 3 nodes excluded by filter';

describe('cancellation and scheduler failures (nomad)', () => {
  let nomad: TestNomad;
  let cluster: TestCluster;
  let client: GoferClient;
  let clusterId: string;

  beforeAll(async () => {
    nomad = await startTestNomad();
    cluster = await TestCluster.create('failures-nomad', nomad.env);
    await cluster.start();
    client = cluster.client();
    clusterId = await cluster.clusterId();
  });
  afterAll(async () => {
    await cluster?.destroy();
    await nomad?.standIn.close();
  });

  /** The Nomad job of one task attempt: its ID is the attempt's container name. */
  function jobId(pipelineId: string, runId: number, taskId: string, attempt = 1): string {
    return taskContainerName(clusterId, { namespaceId: 'default', pipelineId, runId, taskId, attempt });
  }

  /** Waits until the task's log (of `attempt`, default the latest) contains `text`. */
  async function logShows(pipelineId: string, runId: number, taskId: string, text: string, attempt = 0): Promise<void> {
    await waitFor(`${taskId} to print ${JSON.stringify(text)}`, async () =>
      (await readLogs(client, pipelineId, runId, taskId, { attempt })).includes(text) ? true : undefined);
  }

  /** The job's one allocation, once Nomad placed it. */
  async function allocationOf(job: string): Promise<NomadAllocationListStub> {
    return waitFor(`an allocation of ${job}`, async () => {
      const { value } = await nomad.client.jobAllocations(job);
      expect(value.length).toBeLessThanOrEqual(1);
      return value[0];
    });
  }

  /** Gofer purges an attempt's job once its result is recorded: nothing of it stays registered. */
  async function jobGone(job: string): Promise<void> {
    await waitFor(`${job} to be purged from Nomad`, async () => ((await nomad.client.job(job)) ? undefined : true));
    expect(await nomad.client.listJobs({ prefix: job })).toEqual([]);
  }

  it('cancelling a run stops its jobs: SIGTERM within the grace, SIGKILL (137) after GOFER_STOP_GRACE', async () => {
    await apply(client, `
id: cancel-nomad
tasks:
  - id: polite
    image: busybox:latest
    script: 'trap "echo got TERM; exit 0" TERM; echo ready; sleep 300 & wait'
  - id: stubborn
    image: busybox:latest
    script: 'trap "" TERM; echo ready; sleep 300'
  - id: later
    image: busybox:latest
    script: echo never
    depends_on: { polite: any }
`);
    const run = await startRun(client, 'cancel-nomad');
    await logShows('cancel-nomad', run.id, 'polite', 'ready');
    await logShows('cancel-nomad', run.id, 'stubborn', 'ready');
    const jobs = { polite: jobId('cancel-nomad', run.id, 'polite'), stubborn: jobId('cancel-nomad', run.id, 'stubborn') };
    const allocs = { polite: await allocationOf(jobs.polite), stubborn: await allocationOf(jobs.stubborn) };
    expect(allocs.polite.ClientStatus).toBe('running');
    expect(allocs.stubborn.ClientStatus).toBe('running');
    await client.cancelRun({ namespaceId: 'default', pipelineId: 'cancel-nomad', runId: run.id });

    const { run: done, tasks } = await waitForRun(client, 'cancel-nomad', run.id);
    expect(done.status).toBe('RUN_STATUS_CANCELLED');
    expect(done.statusReason?.reason).toBe('STATUS_REASON_KIND_USER_CANCELLED');
    // The polite task exited on SIGTERM within the grace; the stubborn one was SIGKILLed after it.
    expect(tasks.polite).toMatchObject({ status: 'TASK_RUN_STATUS_CANCELLED', exitCode: 0 });
    expect(tasks.stubborn).toMatchObject({ status: 'TASK_RUN_STATUS_CANCELLED', exitCode: 137 });
    expect(tasks.later.status).toBe('TASK_RUN_STATUS_CANCELLED');
    expect(tasks.later.statusReason?.description).toBe('the run was cancelled before this task started');
    expect(await readLogs(client, 'cancel-nomad', run.id, 'polite')).toBe('ready\ngot TERM\n');
    expect(await readLogs(client, 'cancel-nomad', run.id, 'stubborn')).toBe('ready\n');

    // Nomad stopped both jobs (it sent the kill signal), and their allocations ended.
    for (const task of ['polite', 'stubborn'] as const) {
      const alloc = (await nomad.client.allocation(allocs[task].ID)).value!;
      expect(alloc).toMatchObject({ DesiredStatus: 'stop', ClientStatus: 'complete' });
      const events = alloc.TaskStates?.task?.Events?.map((e) => e.Type);
      expect(events).toContain('Killing');
      expect(events).toContain('Killed');
      await jobGone(jobs[task]);
    }
    // The task that never started never had a job.
    expect(nomad.standIn.registrations(jobId('cancel-nomad', run.id, 'later'))).toBe(0);
  });

  it('an image that cannot be pulled fails the task with scheduler_error and leaves no job in Nomad', async () => {
    await apply(client, `
id: bad-image-nomad
tasks:
  - { id: pull, image: "127.0.0.1:1/nope:latest", command: [true] }
  - { id: fine, image: "busybox:latest", script: "echo fine" }
  - { id: after, image: "busybox:latest", script: "echo after", depends_on: { pull: failure } }
`);
    const run = await startRun(client, 'bad-image-nomad');
    const { run: done, tasks } = await waitForRun(client, 'bad-image-nomad', run.id);
    expect(done.status).toBe('RUN_STATUS_FAILED');
    expect(done.statusReason?.reason).toBe('STATUS_REASON_KIND_SCHEDULER_ERROR');
    expect(tasks.pull.status).toBe('TASK_RUN_STATUS_FAILED');
    expect(tasks.pull.statusReason?.reason).toBe('STATUS_REASON_KIND_SCHEDULER_ERROR');
    expect(tasks.pull.statusReason?.description).toContain('image "127.0.0.1:1/nope:latest"');
    expect(tasks.pull.attempt).toBe(1);
    expect(tasks.fine.status).toBe('TASK_RUN_STATUS_SUCCESSFUL');
    expect(tasks.after.status).toBe('TASK_RUN_STATUS_SUCCESSFUL');

    // The job was registered once, and removed when its task could not start.
    const pull = jobId('bad-image-nomad', run.id, 'pull');
    expect(nomad.standIn.registrations(pull)).toBe(1);
    expect(await nomad.client.job(pull)).toBeUndefined();
    expect(await nomad.client.listJobs({ prefix: pull })).toEqual([]);
  });

  it('a placement Nomad refuses fails the attempt with its explanation, and the retry runs', async () => {
    await apply(client, `
id: placement-nomad
tasks:
  - id: placed
    image: busybox:latest
    script: 'echo "placed on attempt $GOFER_TASK_ATTEMPT"'
    retries: { attempts: 2, backoff: 200ms }
`);
    nomad.standIn.failNextPlacement();
    const run = await startRun(client, 'placement-nomad');
    const { run: done, tasks } = await waitForRun(client, 'placement-nomad', run.id);
    expect(done.status).toBe('RUN_STATUS_SUCCESSFUL');
    expect(tasks.placed).toMatchObject({ attempt: 2, status: 'TASK_RUN_STATUS_SUCCESSFUL', exitCode: 0 });
    expect(await readLogs(client, 'placement-nomad', run.id, 'placed')).toBe('placed on attempt 2\n');

    const first = (await client.getTaskRun({ namespaceId: 'default', pipelineId: 'placement-nomad', runId: run.id, taskId: 'placed', attempt: 1 })).taskRun!;
    expect(first).toMatchObject({ attempt: 1, status: 'TASK_RUN_STATUS_FAILED' });
    expect(first.statusReason?.reason).toBe('STATUS_REASON_KIND_SCHEDULER_ERROR');
    expect(first.statusReason?.description).toContain(CONSTRAINT_FILTERED);
    // The unplaced job was registered once, never got an allocation, and is gone.
    const unplaced = jobId('placement-nomad', run.id, 'placed', 1);
    expect(nomad.standIn.registrations(unplaced)).toBe(1);
    expect((await nomad.client.jobAllocations(unplaced)).value).toEqual([]);
    expect(await nomad.client.job(unplaced)).toBeUndefined();
    await jobGone(jobId('placement-nomad', run.id, 'placed', 2));
  });

  it('an allocation Nomad loses fails the attempt with scheduler_error, and the retry runs', async () => {
    await apply(client, `
id: lost-nomad
tasks:
  - id: fragile
    image: busybox:latest
    script: 'if [ "$GOFER_TASK_ATTEMPT" = 2 ]; then echo "attempt 2 works"; exit 0; fi; echo ready; sleep 300'
    retries: { attempts: 2, backoff: 200ms }
`);
    const run = await startRun(client, 'lost-nomad');
    await logShows('lost-nomad', run.id, 'fragile', 'ready', 1);
    const job = jobId('lost-nomad', run.id, 'fragile', 1);
    const alloc = await allocationOf(job);
    expect(alloc.ClientStatus).toBe('running');
    expect(await nomad.standIn.loseAllocation(alloc.ID)).toBe(true);

    const { run: done, tasks } = await waitForRun(client, 'lost-nomad', run.id);
    expect(done.status).toBe('RUN_STATUS_SUCCESSFUL');
    expect(tasks.fragile).toMatchObject({ attempt: 2, status: 'TASK_RUN_STATUS_SUCCESSFUL', exitCode: 0 });
    expect(await readLogs(client, 'lost-nomad', run.id, 'fragile')).toBe('attempt 2 works\n');

    const first = (await client.getTaskRun({ namespaceId: 'default', pipelineId: 'lost-nomad', runId: run.id, taskId: 'fragile', attempt: 1 })).taskRun!;
    expect(first).toMatchObject({ attempt: 1, status: 'TASK_RUN_STATUS_FAILED' });
    expect(first.statusReason?.reason).toBe('STATUS_REASON_KIND_SCHEDULER_ERROR');
    expect(first.statusReason?.description).toContain(`Nomad lost allocation ${alloc.ID.slice(0, 8)} of job "${job}"`);
    // What it printed before its node went is kept.
    expect(await readLogs(client, 'lost-nomad', run.id, 'fragile', { attempt: 1 })).toBe('ready\n');
    expect(nomad.standIn.registrations(job)).toBe(1);
    await jobGone(job);
    // Nomad placed a replacement of the lost allocation (whatever the reschedule policy): Gofer stopped it,
    // so attempt 1 did not go on running there; attempt 2 is a job of its own.
    const { value: allocs } = await nomad.client.jobAllocations(job);
    expect(allocs.map((a) => a.ID)).toContain(alloc.ID);
    expect(allocs.filter((a) => a.ID !== alloc.ID)).toEqual([expect.objectContaining({ DesiredStatus: 'stop' })]);
  });
});
