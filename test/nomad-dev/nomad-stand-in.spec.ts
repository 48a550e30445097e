// The Nomad API stand-in (apps/nomad-dev) against real Docker: jobs run as busybox containers, and its
// JSON carries the field names and types of Nomad's own documented samples (apps/nomad-dev/test-fixtures).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import Docker from 'dockerode';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startNomadStandIn, type NomadStandIn } from '../../apps/nomad-dev/src/nomad-stand-in.js';

const docker = new Docker({ socketPath: '/var/run/docker.sock' });
const FIXTURES = join(import.meta.dirname, '../../apps/nomad-dev/test-fixtures');
type Json = Record<string, any>;

let standIn: NomadStandIn;
let serial = 0;

beforeAll(async () => {
  standIn = await startNomadStandIn({ heartbeatMs: 100 });
});

afterAll(async () => {
  await standIn?.close();
  const left = await docker.listContainers({ all: true, filters: JSON.stringify({ label: [`gofer.nomad-dev.instance=${standIn.instanceId}`] }) });
  expect(left).toEqual([]);
});

async function api(path: string, init: RequestInit & { json?: unknown } = {}, base = standIn) {
  const response = await fetch(`${base.address}${path}`, {
    ...init,
    ...(init.json !== undefined && { body: JSON.stringify(init.json), headers: { 'Content-Type': 'application/json', ...(init.headers ?? {}) } }),
  });
  const text = await response.text();
  // Log streams are concatenated JSON frames, not one JSON document: callers split them with frames().
  const isJson = response.headers.get('content-type')?.startsWith('application/json') && !path.includes('/client/fs/logs/');
  return { status: response.status, index: Number(response.headers.get('x-nomad-index')), body: isJson ? JSON.parse(text) : text };
}

function batchJob(command: string, overrides: Json = {}): Json {
  const id = `stand-in-test-${process.pid}-${++serial}`;
  return {
    ID: id, Type: 'batch', Datacenters: ['dc1'], Meta: { 'gofer.test': id },
    TaskGroups: [{
      Name: 'task', Count: 1,
      RestartPolicy: { Attempts: 0, Mode: 'fail' },
      ReschedulePolicy: { Attempts: 0, Unlimited: false },
      Tasks: [{
        Name: 'main', Driver: 'docker',
        Config: { image: 'busybox:latest', command: 'sh', args: ['-c', command], network_mode: 'host' },
        Env: { GREETING: 'hello' }, Resources: { CPU: 100, MemoryMB: 64 }, KillTimeout: 1e9,
      }],
    }],
    ...overrides,
  };
}

async function register(job: Json, enforce = true) {
  return api('/v1/jobs', { method: 'PUT', json: { Job: job, EnforceIndex: enforce, JobModifyIndex: 0 } });
}

/** Follows the job's allocation with blocking queries until `done` holds. */
async function followAlloc(jobId: string, done: (alloc: Json) => boolean): Promise<Json> {
  let index = 0;
  for (;;) {
    const list = await api(`/v1/job/${jobId}/allocations?index=${index}&wait=10s`);
    index = list.index;
    const stub = list.body[0];
    if (stub) {
      const alloc = await api(`/v1/allocation/${stub.ID}`);
      if (done(alloc.body)) return alloc.body;
    }
  }
}

const terminal = (alloc: Json) => ['complete', 'failed', 'lost'].includes(alloc.ClientStatus);
const task = (alloc: Json) => alloc.TaskStates.main;

/** Splits Nomad's log stream (concatenated JSON objects) into frames. */
function* frames(text: string): Generator<Json> {
  let depth = 0;
  let start = 0;
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const char = text[i];
    if (quoted) {
      if (char === '\\') i++;
      else if (char === '"') quoted = false;
    } else if (char === '"') quoted = true;
    else if (char === '{' && depth++ === 0) start = i;
    else if (char === '}' && --depth === 0) yield JSON.parse(text.slice(start, i + 1));
  }
}

function decode(list: Json[]): string {
  return list.filter((f) => f.Data).map((f) => Buffer.from(f.Data, 'base64').toString('utf8')).join('');
}

describe('batch jobs', () => {
  it('runs the task as a container and reports its exit code in the Terminated event', async () => {
    const job = batchJob('echo "$GREETING from $NOMAD_TASK_NAME"; echo oops >&2; exit 3');
    const registered = await register(job);
    expect(registered.status).toBe(200);
    expect(registered.body).toMatchObject({ EvalID: expect.any(String), JobModifyIndex: expect.any(Number), EvalCreateIndex: expect.any(Number) });

    const alloc = await followAlloc(job.ID, terminal);
    expect(alloc.ClientStatus).toBe('failed');
    expect(task(alloc).State).toBe('dead');
    expect(task(alloc).Failed).toBe(true);
    const types = task(alloc).Events.map((e: Json) => e.Type);
    expect(types).toEqual(['Received', 'Task Setup', 'Started', 'Terminated', 'Not Restarting']);
    const terminated = task(alloc).Events.find((e: Json) => e.Type === 'Terminated');
    expect(terminated).toMatchObject({ ExitCode: 3, Details: { exit_code: '3' }, DisplayMessage: 'Exit Code: 3' });

    const evaluation = await api(`/v1/evaluation/${registered.body.EvalID}`);
    expect(evaluation.body).toMatchObject({ Status: 'complete', JobID: job.ID, TriggeredBy: 'job-register' });
    const read = await api(`/v1/job/${job.ID}`);
    expect(read.body).toMatchObject({ ID: job.ID, Status: 'dead', Meta: job.Meta, Type: 'batch' });

    const logs = await api(`/v1/client/fs/logs/${alloc.ID}?task=main&type=stdout&origin=start&offset=0`);
    expect(decode([...frames(logs.body as string)])).toBe('hello from main\n');
  });

  it('completes an allocation whose task exits 0, and removes the container', async () => {
    const job = batchJob('exit 0');
    expect((await register(job)).status).toBe(200);
    const alloc = await followAlloc(job.ID, terminal);
    expect(alloc.ClientStatus).toBe('complete');
    expect(task(alloc).Failed).toBe(false);
    expect(task(alloc).Events.at(-1)).toMatchObject({ Type: 'Terminated', ExitCode: 0 });
    const containers = await docker.listContainers({ all: true, filters: JSON.stringify({ label: [`com.hashicorp.nomad.alloc_id=${alloc.ID}`] }) });
    expect(containers).toEqual([]);
  });

  it('refuses a create-only register of a job that exists, with Nomad\'s message', async () => {
    const job = batchJob('exit 0');
    expect((await register(job)).status).toBe(200);
    const again = await register(job);
    expect(again.status).toBe(500);
    expect(again.body).toBe('Enforcing job modify index 0: job already exists');
    const allocs = await api(`/v1/job/${job.ID}/allocations`);
    expect(allocs.body).toHaveLength(1);
    await followAlloc(job.ID, terminal);
  });

  it('answers 404 "job not found" for an unknown job', async () => {
    const missing = await api('/v1/job/no-such-job');
    expect(missing).toMatchObject({ status: 404, body: 'job not found' });
    expect(missing.index).toBeGreaterThan(0);
  });

  it('maps image, entrypoint, env, CPU and memory onto the container', async () => {
    const job = batchJob('sleep 30');
    job.TaskGroups[0].Tasks[0].Config = { image: 'busybox:latest', entrypoint: ['/bin/sh', '-c'], args: ['sleep 30'], network_mode: 'host' };
    job.TaskGroups[0].Tasks[0].Resources = { CPU: 250, MemoryMB: 48 };
    expect((await register(job)).status).toBe(200);
    const alloc = await followAlloc(job.ID, (a) => a.ClientStatus === 'running');
    const info = await docker.getContainer(`main-${alloc.ID}`).inspect();
    expect(info.Config.Entrypoint).toEqual(['/bin/sh', '-c']);
    expect(info.Config.Cmd).toEqual(['sleep 30']);
    expect(info.Config.Env).toEqual(expect.arrayContaining(['GREETING=hello', `NOMAD_ALLOC_ID=${alloc.ID}`, `NOMAD_JOB_ID=${job.ID}`]));
    expect(info.HostConfig.CpuShares).toBe(250);
    expect(info.HostConfig.Memory).toBe(48 * 1024 * 1024);
    expect(info.Config.Labels).toMatchObject({ 'gofer.nomad-dev.instance': standIn.instanceId, 'com.hashicorp.nomad.alloc_id': alloc.ID });
    await api(`/v1/job/${job.ID}?purge=true`, { method: 'DELETE' });
    await followAlloc(job.ID, terminal).catch(() => undefined);
  });

  it('fails the allocation with a Driver Failure when the image cannot be pulled', async () => {
    const job = batchJob('exit 0');
    job.TaskGroups[0].Tasks[0].Config.image = '127.0.0.1:1/gofer/no-such-image:1';
    job.TaskGroups[0].Tasks[0].Config.auth = { username: 'u', password: 'p', server_address: '127.0.0.1:1' };
    await register(job);
    const alloc = await followAlloc(job.ID, terminal);
    expect(alloc.ClientStatus).toBe('failed');
    const failure = task(alloc).Events.find((e: Json) => e.Type === 'Driver Failure');
    expect(failure.DriverError).toMatch(/^Failed to pull `127\.0\.0\.1:1\/gofer\/no-such-image:1`: /);
    expect(task(alloc).Events.at(-1)).toMatchObject({ Type: 'Not Restarting', FailsTask: true });
  });
});

describe('blocking queries', () => {
  it('holds a read until the allocation changes, and answers the same index when the wait ends', async () => {
    const job = batchJob('sleep 1; exit 0');
    await register(job);
    const first = await followAlloc(job.ID, () => true);
    const changed = await api(`/v1/allocation/${first.ID}?index=${first.ModifyIndex}&wait=60s`);
    expect(changed.index).toBeGreaterThan(first.ModifyIndex);
    expect(changed.body.ModifyIndex).toBe(changed.index);

    const done = await followAlloc(job.ID, terminal);
    const unchanged = await api(`/v1/allocation/${done.ID}?index=${done.ModifyIndex}&wait=200ms`);
    expect(unchanged.index).toBe(done.ModifyIndex);
    expect(unchanged.body.ClientStatus).toBe('complete');
  });

  it('lists jobs by prefix and by a Meta filter expression, with Meta when meta=true', async () => {
    const a = batchJob('exit 0');
    const b = batchJob('exit 0');
    await register(a);
    await register(b);
    const filter = encodeURIComponent(`Meta["gofer.test"] == "${a.ID}" and Type == "batch"`);
    const listed = await api(`/v1/jobs?meta=true&filter=${filter}`);
    expect(listed.body.map((j: Json) => j.ID)).toEqual([a.ID]);
    expect(listed.body[0].Meta).toEqual(a.Meta);
    const byPrefix = await api(`/v1/jobs?prefix=${b.ID}`);
    expect(byPrefix.body.map((j: Json) => j.ID)).toEqual([b.ID]);
    expect(byPrefix.body[0].Meta).toBeUndefined();
    const bad = await api(`/v1/jobs?filter=${encodeURIComponent('Meta["x"] matches "y"')}`);
    expect(bad.status).toBe(400);
    await followAlloc(a.ID, terminal);
    await followAlloc(b.ID, terminal);
  });
});

describe('logs', () => {
  it('streams stdout and stderr separately as base64 frames, and keeps following after the task ended', async () => {
    const job = batchJob('for i in 1 2 3; do echo out-$i; echo err-$i >&2; sleep 0.2; done');
    await register(job);
    const { ID } = await followAlloc(job.ID, () => true);
    const read = async (type: string) => {
      const controller = new AbortController();
      const response = await fetch(`${standIn.address}/v1/client/fs/logs/${ID}?task=main&type=${type}&follow=true&origin=start&offset=0&plain=false`, { signal: controller.signal });
      let text = '';
      const decoder = new TextDecoder();
      const reader = response.body!.getReader();
      // Read until the output is complete, the allocation has ended and a heartbeat came after that.
      for (;;) {
        const { value, done } = await reader.read();
        expect(done).toBe(false); // the follow stream does not end with the task (nomad#18369)
        text += decoder.decode(value, { stream: true });
        const list = [...frames(text)];
        const alloc = (await api(`/v1/allocation/${ID}`)).body;
        if (terminal(alloc) && decode(list).split('\n').length === 4 && JSON.stringify(list.at(-1)) === '{}') {
          controller.abort();
          return list;
        }
      }
    };
    const [stdout, stderr] = await Promise.all([read('stdout'), read('stderr')]);
    expect(decode(stdout)).toBe('out-1\nout-2\nout-3\n');
    expect(decode(stderr)).toBe('err-1\nerr-2\nerr-3\n');
    const data = stdout.filter((f) => f.Data);
    expect(data[0]!.File).toBe('alloc/logs/main.stdout.0');
    expect(data.at(-1)!.Offset).toBe(Buffer.byteLength('out-1\nout-2\nout-3\n'));

    // Resuming from an offset gives the rest of the file.
    const rest = await api(`/v1/client/fs/logs/${ID}?task=main&type=stdout&origin=start&offset=6`);
    expect(decode([...frames(rest.body as string)])).toBe('out-2\nout-3\n');
    const plain = await api(`/v1/client/fs/logs/${ID}?task=main&type=stderr&plain=true`);
    expect(plain.body).toBe('err-1\nerr-2\nerr-3\n');
  });

  it('sends a FileEvent when the log file is truncated', async () => {
    const job = batchJob('echo before; sleep 30');
    await register(job);
    const { ID } = await followAlloc(job.ID, (a) => a.ClientStatus === 'running');
    const controller = new AbortController();
    const response = await fetch(`${standIn.address}/v1/client/fs/logs/${ID}?task=main&type=stdout&follow=true`, { signal: controller.signal });
    const reader = response.body!.getReader();
    let text = '';
    let truncated = false;
    for (;;) {
      const { value } = await reader.read();
      text += new TextDecoder().decode(value);
      const list = [...frames(text)];
      if (!truncated && decode(list) === 'before\n') {
        expect(standIn.truncateLogs(ID, 'main', 'stdout')).toBe(true);
        truncated = true;
      }
      const event = list.find((f) => f.FileEvent);
      if (event) {
        expect(event).toEqual({ File: 'alloc/logs/main.stdout.0', FileEvent: 'file truncated', Offset: 0 });
        break;
      }
    }
    controller.abort();
    await api(`/v1/job/${job.ID}?purge=true`, { method: 'DELETE' });
    await followAlloc(job.ID, terminal);
  });
});

describe('stopping, faults and services', () => {
  it('stops the container when the job is deregistered with purge', async () => {
    const job = batchJob('sleep 300');
    await register(job);
    const running = await followAlloc(job.ID, (a) => a.ClientStatus === 'running');
    const stopped = await api(`/v1/job/${job.ID}?purge=true`, { method: 'DELETE' });
    expect(stopped.body).toMatchObject({ EvalID: expect.any(String), JobModifyIndex: expect.any(Number) });
    expect((await api(`/v1/job/${job.ID}`)).status).toBe(404);
    let alloc = running;
    while (!terminal(alloc)) alloc = (await api(`/v1/allocation/${running.ID}?index=${alloc.ModifyIndex}&wait=10s`)).body;
    expect(alloc).toMatchObject({ ClientStatus: 'complete', DesiredStatus: 'stop' });
    expect(task(alloc).Events.map((e: Json) => e.Type).slice(-3)).toEqual(['Killing', 'Terminated', 'Killed']);
    await expect(docker.getContainer(`main-${running.ID}`).inspect()).rejects.toMatchObject({ statusCode: 404 });
  });

  it('fails placement when told to, with the blocked evaluation and Nomad\'s metrics', async () => {
    await api('/_standin/fail-placement', { method: 'POST', json: { ConstraintFiltered: { '${attr.kernel.name} = windows': 3 } } });
    const job = batchJob('exit 0');
    const registered = await register(job);
    const evaluation = (await api(`/v1/evaluation/${registered.body.EvalID}`)).body;
    expect(evaluation.Status).toBe('complete');
    expect(evaluation.FailedTGAllocs.task).toMatchObject({ NodesEvaluated: 3, ConstraintFiltered: { '${attr.kernel.name} = windows': 3 } });
    const blocked = (await api(`/v1/evaluation/${evaluation.BlockedEval}`)).body;
    expect(blocked).toMatchObject({ Status: 'blocked', JobID: job.ID, FailedTGAllocs: { task: { NodesEvaluated: 3 } } });
    expect((await api(`/v1/job/${job.ID}/allocations`)).body).toEqual([]);
    expect((await api(`/v1/job/${job.ID}`)).body.Status).toBe('pending');
    await api(`/v1/job/${job.ID}?purge=true`, { method: 'DELETE' });
  });

  it('loses an allocation when told to: ClientStatus lost, the container gone, and a replacement placed as Nomad does', async () => {
    const job = batchJob('sleep 300');
    await register(job);
    const running = await followAlloc(job.ID, (a) => a.ClientStatus === 'running');
    expect((await api(`/_standin/lose/${running.ID}`, { method: 'POST' })).status).toBe(200);
    const lost = (await api(`/v1/allocation/${running.ID}`)).body;
    expect(lost).toMatchObject({ ClientStatus: 'lost', DesiredStatus: 'stop' });
    await expect(docker.getContainer(`main-${running.ID}`).inspect()).rejects.toMatchObject({ statusCode: 404 });
    // A lost node's allocations are replaced whatever the reschedule policy (Attempts: 0 here) says.
    const allocs = (await api(`/v1/job/${job.ID}/allocations`)).body as Json[];
    expect(allocs).toHaveLength(2);
    const replacement = allocs.find((a) => a.ID !== running.ID)!;
    expect(lost.NextAllocation).toBe(replacement.ID);
    expect((await api(`/v1/allocation/${replacement.ID}`)).body).toMatchObject({ PreviousAllocation: running.ID, DesiredStatus: 'run' });
    expect(replacement.CreateIndex).toBeLessThan(lost.ModifyIndex); // placed before the loss is reported
    await api(`/v1/job/${job.ID}?purge=true`, { method: 'DELETE' });
  });

  it('runs a service job on a dynamic port it reads back from the allocation', async () => {
    const job = batchJob('', { Type: 'service' });
    const group = job.TaskGroups[0];
    group.Networks = [{ DynamicPorts: [{ Label: 'http', Value: 0 }] }];
    group.RestartPolicy = { Attempts: 2, Interval: 60e9, Delay: 100e6, Mode: 'fail' };
    group.Tasks[0].Config = { image: 'busybox:latest', command: 'sh', args: ['-c', 'echo hi > /tmp/index.html; exec httpd -f -h /tmp -p 127.0.0.1:$NOMAD_PORT_http'], network_mode: 'host' };
    await register(job);
    const alloc = await followAlloc(job.ID, (a) => a.ClientStatus === 'running');
    const [port] = alloc.AllocatedResources.Shared.Ports;
    expect(port).toMatchObject({ Label: 'http', Value: expect.any(Number), HostIP: '127.0.0.1' });
    expect(alloc.Resources.Networks[0].DynamicPorts[0]).toMatchObject({ Label: 'http', Value: port.Value });
    let body = '';
    for (let attempt = 0; attempt < 50 && body === ''; attempt++) {
      body = await fetch(`http://127.0.0.1:${port.Value}/index.html`).then((r) => r.text(), () => '');
      if (body === '') await new Promise((r) => setTimeout(r, 100));
    }
    expect(body).toBe('hi\n');
    await api(`/v1/job/${job.ID}?purge=true`, { method: 'DELETE' });
    await followAlloc(job.ID, terminal);
  });

  it('restarts a service task that exits, within its restart policy, then fails it', async () => {
    const job = batchJob('echo run; exit 1', { Type: 'service' });
    job.TaskGroups[0].RestartPolicy = { Attempts: 2, Interval: 60e9, Delay: 100e6, Mode: 'fail' };
    await register(job);
    const alloc = await followAlloc(job.ID, terminal);
    expect(alloc.ClientStatus).toBe('failed');
    expect(task(alloc).Restarts).toBe(2);
    const types = task(alloc).Events.map((e: Json) => e.Type);
    expect(types.filter((t: string) => t === 'Restarting')).toHaveLength(2);
    expect(types.at(-1)).toBe('Not Restarting');
    const logs = await api(`/v1/client/fs/logs/${alloc.ID}?task=main&type=stdout`);
    expect(decode([...frames(logs.body as string)])).toBe('run\nrun\nrun\n');
  });
});

describe('close', () => {
  it('closes while a service task waits out its restart delay, and leaves no container', async () => {
    const own = await startNomadStandIn();
    const job = batchJob('exit 1', { Type: 'service' });
    job.TaskGroups[0].RestartPolicy = { Attempts: 5, Interval: 600e9, Delay: 600e9, Mode: 'fail' };
    await api('/v1/jobs', { method: 'PUT', json: { Job: job } }, own);
    let index = 0;
    for (;;) {
      const list = await api(`/v1/job/${job.ID}/allocations?index=${index}&wait=10s`, {}, own);
      index = list.index;
      if (list.body[0]?.TaskStates.main.Events.some((e: Json) => e.Type === 'Restarting')) break;
    }
    await own.close();
    const left = await docker.listContainers({ all: true, filters: JSON.stringify({ label: [`gofer.nomad-dev.instance=${own.instanceId}`] }) });
    expect(left).toEqual([]);
  });
});

describe('ACL', () => {
  it('requires the token on every /v1 request when started with one', async () => {
    const guarded = await startNomadStandIn({ token: 'secret-token' });
    try {
      expect(await api('/v1/jobs', {}, guarded)).toMatchObject({ status: 403, body: 'Permission denied' });
      expect(await api('/v1/jobs', { headers: { 'X-Nomad-Token': 'wrong' } }, guarded)).toMatchObject({ status: 403 });
      expect(await api('/v1/jobs', { headers: { 'X-Nomad-Token': 'secret-token' } }, guarded)).toMatchObject({ status: 200, body: [] });
    } finally {
      await guarded.close();
    }
  });
});

describe('shapes match Nomad\'s documented samples', () => {
  function fixture(name: string): Json {
    return JSON.parse(readFileSync(join(FIXTURES, `${name}.json`), 'utf8')).sample;
  }

  /** The value at `path`; `*` takes an object's first value, `0` an array's first element. */
  function at(value: unknown, path: string): unknown {
    let current: any = value;
    for (const key of path.split('.')) {
      if (current === null || current === undefined) return undefined;
      current = key === '*' ? Object.values(current)[0] : current[key];
    }
    return current;
  }

  function kind(value: unknown): string {
    return value === null ? 'null' : Array.isArray(value) ? 'array' : typeof value;
  }

  /** Each path Gofer reads has the same JSON type in the stand-in's answer as in Nomad's sample. */
  function expectSameShape(actual: unknown, sample: unknown, paths: string[], nullable: string[] = []) {
    const mismatches = paths.flatMap((path) => {
      const want = kind(at(sample, path));
      const got = kind(at(actual, path));
      const ok = got === want || (nullable.includes(path) && (got === 'null' || want === 'null'));
      return ok ? [] : [`${path}: Nomad has ${want}, the stand-in ${got}`];
    });
    expect(mismatches).toEqual([]);
  }

  const EVENT = ['Type', 'Time', 'ExitCode', 'Message', 'FailsTask', 'DriverError', 'KillTimeout', 'RestartReason', 'StartDelay', 'DriverMessage']
    .map((f) => `TaskStates.*.Events.0.${f}`);

  it('allocation, allocation list, evaluation, job, job list, register response and log frames', async () => {
    const job = batchJob('echo shape; exit 2', { Type: 'service' });
    job.TaskGroups[0].Networks = [{ DynamicPorts: [{ Label: 'db', Value: 0 }] }];
    job.TaskGroups[0].RestartPolicy = { Attempts: 0, Interval: 60e9, Delay: 100e6, Mode: 'fail' };
    const registered = await register(job);
    expectSameShape(registered.body, fixture('job-register'), ['EvalID', 'EvalCreateIndex', 'JobModifyIndex', 'Warnings', 'Index', 'LastContact', 'KnownLeader']);

    const alloc = await followAlloc(job.ID, terminal);
    expectSameShape(alloc, fixture('allocation-read'), [
      'ID', 'EvalID', 'Name', 'NodeID', 'JobID', 'Job', 'Job.ID', 'Job.Type', 'Job.Status', 'TaskGroup', 'DesiredStatus',
      'DesiredDescription', 'ClientStatus', 'ClientDescription', 'CreateIndex', 'ModifyIndex', 'AllocModifyIndex',
      'CreateTime', 'ModifyTime', 'TaskStates', 'TaskStates.*.State', 'TaskStates.*.Failed', 'TaskStates.*.Restarts',
      'TaskStates.*.StartedAt', 'TaskStates.*.Events', ...EVENT,
      'Resources.CPU', 'Resources.MemoryMB', 'Resources.Networks.0.IP', 'Resources.Networks.0.DynamicPorts.0.Label',
      'Resources.Networks.0.DynamicPorts.0.Value', 'Metrics.NodesEvaluated', 'Metrics.NodesFiltered', 'Metrics.NodesAvailable',
      'Metrics.NodesExhausted', 'Metrics.CoalescedFailures',
    ]);
    const stubs = await api(`/v1/job/${job.ID}/allocations`);
    expectSameShape(stubs.body, fixture('allocation-list'), [
      '0.ID', '0.EvalID', '0.Name', '0.Namespace', '0.NodeID', '0.NodeName', '0.JobID', '0.JobType', '0.JobVersion',
      '0.TaskGroup', '0.DesiredStatus', '0.DesiredDescription', '0.ClientStatus', '0.ClientDescription', '0.DesiredTransition',
      '0.FollowupEvalID', '0.CreateIndex', '0.ModifyIndex', '0.CreateTime', '0.ModifyTime', '0.TaskStates.*.State',
      '0.TaskStates.*.Failed', '0.TaskStates.*.FinishedAt', '0.TaskStates.*.LastRestart', '0.TaskStates.*.Restarts',
      ...EVENT.map((p) => `0.${p}`), '0.TaskStates.*.Events.0.Details', '0.TaskStates.*.Events.0.DisplayMessage',
    ], ['0.TaskStates.*.FinishedAt', '0.TaskStates.*.LastRestart']);
    expectSameShape(await api(`/v1/evaluation/${registered.body.EvalID}`).then((r) => r.body), fixture('evaluation-read'), [
      'ID', 'Priority', 'Type', 'TriggeredBy', 'JobID', 'JobModifyIndex', 'Status', 'StatusDescription', 'NextEval',
      'PreviousEval', 'BlockedEval', 'QueuedAllocations', 'CreateIndex', 'ModifyIndex', 'SnapshotIndex',
    ]);
    const read = (await api(`/v1/job/${job.ID}`)).body;
    expectSameShape(read, fixture('job-read'), [
      'Region', 'Namespace', 'ID', 'Name', 'Type', 'Priority', 'Datacenters', 'Meta', 'Status', 'StatusDescription',
      'CreateIndex', 'ModifyIndex', 'JobModifyIndex', 'TaskGroups.0.Name', 'TaskGroups.0.Count', 'TaskGroups.0.RestartPolicy.Attempts',
      'TaskGroups.0.RestartPolicy.Interval', 'TaskGroups.0.RestartPolicy.Mode', 'TaskGroups.0.Tasks.0.Name',
      'TaskGroups.0.Tasks.0.Driver', 'TaskGroups.0.Tasks.0.Config.image', 'TaskGroups.0.Tasks.0.Config.command',
      'TaskGroups.0.Tasks.0.Resources.CPU', 'TaskGroups.0.Tasks.0.Resources.MemoryMB',
    ]);
    const list = (await api(`/v1/jobs?prefix=${job.ID}`)).body;
    expectSameShape(list, fixture('jobs-list'), [
      '0.ID', '0.ParentID', '0.Name', '0.Type', '0.Priority', '0.Status', '0.StatusDescription', '0.JobSummary.JobID',
      '0.JobSummary.Summary.*.Running', '0.JobSummary.Summary.*.Failed', '0.JobSummary.Summary.*.Complete',
      '0.CreateIndex', '0.ModifyIndex', '0.JobModifyIndex',
    ]);
    const logs = [...frames((await api(`/v1/client/fs/logs/${alloc.ID}?task=main&type=stdout`)).body as string)];
    expectSameShape(logs, fixture('client-fs-logs'), ['0.File', '0.Offset', '0.Data']);
    await api(`/v1/job/${job.ID}?purge=true`, { method: 'DELETE' });
  });

  it('a placement failure\'s metrics have the shape of Nomad\'s AllocMetric', async () => {
    standIn.failNextPlacement();
    const job = batchJob('exit 0');
    const registered = await register(job);
    const evaluation = (await api(`/v1/evaluation/${registered.body.EvalID}`)).body;
    const sample = fixture('allocation-read').Metrics;
    expectSameShape(evaluation.FailedTGAllocs.task, sample, [
      'NodesEvaluated', 'NodesFiltered', 'NodesAvailable', 'NodesExhausted', 'AllocationTime', 'CoalescedFailures',
    ]);
    expect(evaluation.FailedTGAllocs.task.ConstraintFiltered).toEqual({ '${attr.kernel.name} = windows': 3 });
    await api(`/v1/job/${job.ID}?purge=true`, { method: 'DELETE' });
  });
});

