// What every Scheduler (libs/scheduler/src/scheduler.ts) must do, as one table of behaviours that each
// implementation's `*.scheduler.contract.spec.ts` runs against its engine. Only the interface is used
// here; what is particular to one engine (its HostConfig, its registry handling) stays in that engine's
// own spec, e.g. docker.scheduler.spec.ts.
import { randomUUID } from 'node:crypto';
import { get } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, describe, expect, it } from 'vitest';
import {
  SchedulerError,
  type ContainerSpec,
  type LogChunk,
  type Scheduler,
  type ServiceInfo,
  type ServiceSpec,
} from '@gofer/scheduler';
import { startTestRegistry } from './test-registry.js';

/** How to run the contract against one implementation. */
export interface SchedulerHarness {
  /** Shown in the test names, e.g. `docker`. */
  readonly kind: string;
  /** A scheduler for a working engine, built the way the service builds it. */
  readonly scheduler: Scheduler;
  /**
   * An image with a POSIX shell (`sh`, `echo`, `sleep`, `trap`, `printf`, `mkdir`) and busybox's `httpd`
   * (the service rows' server), present on the engine.
   */
  readonly image: string;
  /**
   * Schedulers pointed at an engine that is not there (a closed loopback port, a missing socket), each
   * with the address its errors must name.
   */
  unreachable(): Promise<Array<{ label: string; scheduler: Scheduler; address: string }>>;
  /** Removes every container carrying these labels, without going through the scheduler under test. */
  cleanup(labels: Record<string, string>): Promise<void>;
  /**
   * Kills the main process of a running container as a crash would: SIGKILL from outside, not through
   * the engine's API (which the engine would take for a stop and not restart it).
   */
  crash(id: string): Promise<void>;
}

/** What a row of the table gets: the scheduler and helpers that keep its containers apart from others'. */
export interface ContractContext {
  scheduler: Scheduler;
  harness: SchedulerHarness;
  /** A spec with a name and labels unique to this row (`overrides.labels` are added to them). */
  spec(overrides?: Partial<ContainerSpec>): ContainerSpec;
  /** The labels every container of this row carries. */
  labels: Record<string, string>;
}

/** One behaviour every implementation must show. */
export interface ContractBehaviour {
  behaviour: string;
  check(ctx: ContractContext): Promise<void>;
}

/** The image reference of design.md §4's example: a registry on a closed loopback port. */
export const UNPULLABLE_IMAGE = '127.0.0.1:1/nope:latest';
const SIGKILL_EXIT = 128 + 9;

export const schedulerContract: ContractBehaviour[] = [
  {
    behaviour: 'start: runs the spec (entrypoint, command, env, labels) and reports it by name and by id',
    async check({ scheduler, harness, spec }) {
      await scheduler.ping();
      expect(scheduler.kind).toBe(harness.kind);
      const s = spec({
        entrypoint: ['sh', '-c'],
        command: ['echo "$GREETING from $0"', 'contract'],
        env: { GREETING: 'hello', TRICKY: 'a b=c "d"' },
        labels: { 'gofer.task': 'greet' },
      });
      const started = await scheduler.start(s);
      expect(started).toEqual({ id: expect.any(String), name: s.name, adopted: false });
      expect(await scheduler.wait(started.id)).toEqual({ exitCode: 0 });
      expect(await output(scheduler, started.id)).toEqual({ stdout: 'hello from contract\n', stderr: '' });

      const byName = await scheduler.inspect(s.name);
      expect(byName).toMatchObject({ id: started.id, name: s.name, running: false, exitCode: 0 });
      expect(byName!.labels).toMatchObject(s.labels);
      expect(byName!.env).toMatchObject(s.env);
      expect(byName!.startedAt).toBeInstanceOf(Date);
      expect(byName!.finishedAt).toBeInstanceOf(Date);
      expect(await scheduler.inspect(started.id)).toEqual(byName);
    },
  },
  {
    behaviour: 'adopt by name: a second start of a running container attaches to it instead of creating another',
    async check({ scheduler, spec, labels }) {
      const s = spec({ command: ['sh', '-c', 'echo started; sleep 300'] });
      const first = await scheduler.start(s);
      const second = await scheduler.start(s);
      expect(first.adopted).toBe(false);
      expect(second).toEqual({ id: first.id, name: s.name, adopted: true });
      expect((await scheduler.list(labels)).map((c) => c.id)).toEqual([first.id]);
      await scheduler.remove(first.id);
    },
  },
  {
    behaviour: 'adopt by name: a container that already exited is adopted, never run again',
    async check({ scheduler, spec, labels }) {
      const s = spec({ command: ['sh', '-c', 'echo once; exit 5'] });
      const first = await scheduler.start(s);
      expect(await scheduler.wait(first.id)).toEqual({ exitCode: 5 });
      const before = await scheduler.inspect(s.name);
      const again = await scheduler.start(s);
      expect(again).toEqual({ id: first.id, name: s.name, adopted: true });
      expect(await scheduler.wait(again.id)).toEqual({ exitCode: 5 });
      expect(await output(scheduler, again.id)).toEqual({ stdout: 'once\n', stderr: '' });
      expect((await scheduler.inspect(s.name))!.startedAt).toEqual(before!.startedAt);
      expect(await scheduler.list(labels)).toHaveLength(1);
    },
  },
  {
    behaviour: 'adopt by name: two callers racing to start one name get one container between them',
    async check({ scheduler, spec, labels }) {
      const s = spec({ command: ['sh', '-c', 'echo raced'] });
      // allSettled: both calls finish before any assertion, so neither creates a container after cleanup.
      const settled = await Promise.allSettled([scheduler.start(s), scheduler.start(s)]);
      const [a, b] = settled.map((r) => {
        if (r.status === 'rejected') throw r.reason;
        return r.value;
      });
      expect(a!.id).toBe(b!.id);
      expect([a!.adopted, b!.adopted].sort()).toEqual([false, true]);
      expect((await scheduler.list(labels)).map((c) => c.id)).toEqual([a!.id]);
      expect(await scheduler.wait(a!.id)).toEqual({ exitCode: 0 });
      expect(await output(scheduler, a!.id)).toEqual({ stdout: 'raced\n', stderr: '' });
    },
  },
  {
    behaviour: 'exit codes: 0 and non-zero codes come back from wait and inspect, also once long exited',
    async check({ scheduler, spec }) {
      const codes = [0, 1, 3, 255];
      const started = await Promise.all(codes.map((code) => scheduler.start(spec({ command: ['sh', '-c', `exit ${code}`] }))));
      for (const [index, { id }] of started.entries()) {
        expect(await scheduler.wait(id)).toEqual({ exitCode: codes[index] });
        // A second wait, after the exit, answers the same.
        expect(await scheduler.wait(id)).toEqual({ exitCode: codes[index] });
        expect(await scheduler.inspect(id)).toMatchObject({ running: false, exitCode: codes[index] });
      }
    },
  },
  {
    behaviour: 'logs: stdout and stderr are kept apart, in order, followed until the container exits',
    async check({ scheduler, spec }) {
      const script = 'echo out-1; echo err-1 >&2; sleep 1; echo out-2; echo err-2 >&2; printf no-newline';
      const { id } = await scheduler.start(spec({ command: ['sh', '-c', script] }));
      // Read while the container runs: the iterator must follow it, not stop at what exists so far.
      expect(await output(scheduler, id)).toEqual({ stdout: 'out-1\nout-2\nno-newline', stderr: 'err-1\nerr-2\n' });
      expect(await scheduler.wait(id)).toEqual({ exitCode: 0 });
      // Read again once it has exited: the whole log, once.
      expect(await output(scheduler, id)).toEqual({ stdout: 'out-1\nout-2\nno-newline', stderr: 'err-1\nerr-2\n' });
    },
  },
  {
    behaviour: 'stop with grace: SIGTERM comes first, and a container that handles it exits its own way',
    async check({ scheduler, spec }) {
      const { id } = await scheduler.start(
        spec({ command: ['sh', '-c', 'trap "echo got TERM; exit 0" TERM; echo ready; sleep 300 & wait'] }),
      );
      await waitForOutput(scheduler, id, 'ready\n');
      await scheduler.stop(id, 60);
      expect(await scheduler.wait(id)).toEqual({ exitCode: 0 });
      expect(await output(scheduler, id)).toEqual({ stdout: 'ready\ngot TERM\n', stderr: '' });
    },
  },
  {
    behaviour: 'stop with grace: a container that ignores SIGTERM is killed once the grace is over',
    async check({ scheduler, spec }) {
      const { id } = await scheduler.start(spec({ command: ['sh', '-c', 'trap "" TERM; echo ready; sleep 300'] }));
      await waitForOutput(scheduler, id, 'ready\n');
      await scheduler.stop(id, 1);
      expect(await scheduler.wait(id)).toEqual({ exitCode: SIGKILL_EXIT });
      expect(await scheduler.inspect(id)).toMatchObject({ running: false, exitCode: SIGKILL_EXIT });
    },
  },
  {
    behaviour: 'stop with grace: stopping a container that already stopped, or is gone, is not an error',
    async check({ scheduler, spec }) {
      const { id } = await scheduler.start(spec({ command: ['true'] }));
      await scheduler.wait(id);
      await expect(scheduler.stop(id, 1)).resolves.toBeUndefined();
      await scheduler.remove(id);
      await expect(scheduler.stop(id, 1)).resolves.toBeUndefined();
    },
  },
  {
    behaviour: 'timeouts: a wait, a log follow or a start given a timed-out signal gives up; the container is left alone',
    async check({ scheduler, spec }) {
      const s = spec({ command: ['sh', '-c', 'echo ready; sleep 300'] });
      const { id } = await scheduler.start(s);

      const waitTimeout = AbortSignal.timeout(200);
      const waitError = await scheduler.wait(id, waitTimeout).then(() => undefined, (e: unknown) => e);
      expect(waitError).toBe(waitTimeout.reason);
      expect(waitError).toMatchObject({ name: 'TimeoutError' });

      // The follow of a container that keeps running ends, without an error, when its deadline passes.
      const logsTimeout = AbortSignal.timeout(500);
      let stdout = '';
      for await (const chunk of scheduler.logs(id, logsTimeout)) if (chunk.stream === 'stdout') stdout += chunk.data.toString();
      expect(logsTimeout.aborted).toBe(true);
      expect('ready\n'.startsWith(stdout)).toBe(true); // how much arrived before the deadline is up to the engine

      expect(await scheduler.inspect(id)).toMatchObject({ running: true });

      // A start whose deadline has already passed creates nothing.
      const late = spec({ command: ['true'] });
      const startTimeout = AbortSignal.abort(new DOMException('deadline passed', 'TimeoutError'));
      await expect(scheduler.start(late, startTimeout)).rejects.toBe(startTimeout.reason);
      expect(await scheduler.inspect(late.name)).toBeUndefined();
      await scheduler.remove(id);
    },
  },
  {
    behaviour: `missing image: ${UNPULLABLE_IMAGE} fails the start with pull_failed naming the image, and creates nothing`,
    async check({ scheduler, spec }) {
      const s = spec({ image: UNPULLABLE_IMAGE, command: ['true'] });
      const err = await schedulerError(scheduler.start(s));
      expect(err.kind).toBe('pull_failed');
      expect(err.message).toMatch(/^image "127\.0\.0\.1:1\/nope:latest" could not be pulled: ./);
      expect(await scheduler.inspect(s.name)).toBeUndefined();
      // The scheduler is still usable.
      const { id } = await scheduler.start(spec({ command: ['true'] }));
      expect(await scheduler.wait(id)).toEqual({ exitCode: 0 });
    },
  },
  {
    behaviour: 'unreachable engine: every call fails with kind unreachable, naming the address; nothing crashes',
    async check({ harness, spec }) {
      for (const { label, scheduler, address } of await harness.unreachable()) {
        const calls: Array<[string, () => Promise<unknown>]> = [
          ['ping', () => scheduler.ping()],
          ['start', () => scheduler.start(spec({ command: ['true'] }))],
          ['wait', () => scheduler.wait('gofer-contract-none')],
          ['logs', () => collect(scheduler.logs('gofer-contract-none'))],
          ['stop', () => scheduler.stop('gofer-contract-none', 1)],
          ['remove', () => scheduler.remove('gofer-contract-none')],
          ['inspect', () => scheduler.inspect('gofer-contract-none')],
          ['list', () => scheduler.list({ 'gofer.test': 'none' })],
          ['startService', () => scheduler.startService(serviceSpec(spec()))],
          ['inspectService', () => scheduler.inspectService('gofer-contract-none')],
        ];
        for (const [call, run] of calls) {
          const err = await schedulerError(run());
          expect({ engine: label, call, kind: err.kind }).toEqual({ engine: label, call, kind: 'unreachable' });
          expect(err.message).toContain(address);
        }
      }
    },
  },
  {
    behaviour: 'list by labels: finds running and exited containers carrying all the given labels, and no others',
    async check({ scheduler, spec, labels }) {
      const running = await scheduler.start(spec({ command: ['sleep', '300'], labels: { role: 'a' } }));
      const exited = await scheduler.start(spec({ command: ['sh', '-c', 'exit 2'], labels: { role: 'b' } }));
      await scheduler.wait(exited.id);

      const all = await scheduler.list(labels);
      expect(all.map((c) => c.id).sort()).toEqual([running.id, exited.id].sort());
      expect(all.find((c) => c.id === running.id)).toMatchObject({ name: running.name, running: true, labels: { ...labels, role: 'a' } });
      expect(all.find((c) => c.id === exited.id)).toMatchObject({ name: exited.name, running: false, exitCode: 2, labels: { role: 'b' } });

      expect((await scheduler.list({ ...labels, role: 'b' })).map((c) => c.id)).toEqual([exited.id]);
      expect(await scheduler.list({ ...labels, role: 'nobody' })).toEqual([]);
      expect(await scheduler.list({ 'gofer.test': `never-used-${randomUUID()}` })).toEqual([]);
      await scheduler.remove(running.id);
    },
  },
  {
    behaviour: 'remove: takes away a running or exited container, and a second remove or an unknown id is not an error',
    async check({ scheduler, spec, labels }) {
      const running = spec({ command: ['sleep', '300'] });
      const { id: runningId } = await scheduler.start(running);
      const { id: exitedId } = await scheduler.start(spec({ command: ['true'] }));
      await scheduler.wait(exitedId);

      await scheduler.remove(runningId);
      await scheduler.remove(exitedId);
      expect(await scheduler.inspect(running.name)).toBeUndefined();
      expect(await scheduler.inspect(runningId)).toBeUndefined();
      expect(await scheduler.list(labels)).toEqual([]);
      await expect(scheduler.remove(runningId)).resolves.toBeUndefined();
      await expect(scheduler.remove(`gofer-contract-never-${randomUUID()}`)).resolves.toBeUndefined();
    },
  },
  {
    behaviour: 'service: startService runs a service dialable at its address; a second call adopts it',
    async check({ scheduler, spec, labels }) {
      const s = serviceSpec(spec());
      const started = await scheduler.startService(s);
      expect(started).toEqual({ id: expect.any(String), name: s.name, address: expect.stringMatching(/^[^:]+:\d+$/), adopted: false });
      expect(await dialService(started.address)).toBe(s.env.MARK);

      expect(await scheduler.startService(s)).toEqual({ ...started, adopted: true });
      const info = await scheduler.inspectService(s.name);
      expect(info).toMatchObject({ id: started.id, name: s.name, running: true, restarts: 0, address: started.address });
      expect(info!.labels).toMatchObject(s.labels);
      expect(info!.env).toMatchObject({ ...s.env, [s.portEnv]: expect.stringMatching(/^\d+$/) });
      expect(await scheduler.inspectService(started.id)).toEqual(info);
      expect((await scheduler.list(labels)).map((c) => c.id)).toEqual([started.id]);
    },
  },
  {
    behaviour: 'service: two callers racing to start one service get one container between them',
    async check({ scheduler, spec, labels }) {
      const s = serviceSpec(spec());
      const settled = await Promise.allSettled([scheduler.startService(s), scheduler.startService(s)]);
      const [a, b] = settled.map((r) => {
        if (r.status === 'rejected') throw r.reason;
        return r.value;
      });
      expect({ ...b!, adopted: a!.adopted }).toEqual(a);
      expect([a!.adopted, b!.adopted].sort()).toEqual([false, true]);
      expect((await scheduler.list(labels)).map((c) => c.id)).toEqual([a!.id]);
      expect(await dialService(a!.address)).toBe(s.env.MARK);
    },
  },
  {
    behaviour: 'service: a service whose process dies is restarted by the engine, at the same address',
    async check({ scheduler, harness, spec }) {
      const s = serviceSpec(spec());
      const started = await scheduler.startService(s);
      expect(await dialService(started.address)).toBe(s.env.MARK);
      await harness.crash(started.id);
      const restarted = await waitForService(scheduler, started.id, (info) => info.restarts >= 1 && info.running);
      expect(restarted).toMatchObject({ id: started.id, address: started.address });
      expect(await dialService(started.address)).toBe(s.env.MARK);
      // Adopting a restarted service changes nothing.
      expect(await scheduler.startService(s)).toEqual({ ...started, adopted: true });
    },
  },
  {
    behaviour: 'service: stop keeps it stopped, startService starts it again, remove takes it away',
    async check({ scheduler, spec, labels }) {
      const s = serviceSpec(spec());
      const started = await scheduler.startService(s);
      expect(await dialService(started.address)).toBe(s.env.MARK);
      await scheduler.stop(started.id, 1);
      // Watched for longer than the engine waits before a restart: it never comes back on its own.
      for (let i = 0; i < 10; i++) {
        expect(await scheduler.inspectService(started.id)).toMatchObject({ running: false, exitCode: expect.any(Number) });
        await sleep(200);
      }

      const again = await scheduler.startService(s);
      expect(again).toMatchObject({ id: started.id, name: s.name, adopted: true });
      expect(await scheduler.inspectService(s.name)).toMatchObject({ running: true, address: again.address });
      expect(await dialService(again.address)).toBe(s.env.MARK);

      await scheduler.remove(started.id);
      expect(await scheduler.inspectService(s.name)).toBeUndefined();
      expect(await scheduler.inspectService(started.id)).toBeUndefined();
      expect(await scheduler.list(labels)).toEqual([]);
    },
  },
  {
    behaviour: 'service: an image its registry does not have fails with image_not_found; a bad spec with invalid_spec; nothing is created',
    async check({ scheduler, spec, labels }) {
      const registry = await startTestRegistry();
      try {
        const image = `${registry.host}/gofer-contract/missing:latest`;
        const missing = serviceSpec(spec({ image }));
        const err = await schedulerError(scheduler.startService(missing));
        expect(err.kind).toBe('image_not_found');
        expect(err.message).toContain(image);
        expect(await scheduler.inspectService(missing.name)).toBeUndefined();
      } finally {
        await registry.close();
      }
      const base = serviceSpec(spec());
      for (const bad of [{ ...base, portEnv: '' }, { ...base, portEnv: 'A=B' }, { ...base, env: { ...base.env, [base.portEnv]: '80' } }]) {
        expect((await schedulerError(scheduler.startService(bad))).kind).toBe('invalid_spec');
      }
      expect(await scheduler.list(labels)).toEqual([]);
    },
  },
];

/**
 * Runs {@link schedulerContract} against one implementation. Every row gets its own name prefix and
 * `gofer.case` label, and everything the file created is removed afterwards.
 */
export function describeSchedulerContract(harness: SchedulerHarness): void {
  const runId = randomUUID();
  const fileLabels = { 'gofer.test': runId };

  describe(`Scheduler contract: ${harness.kind}`, () => {
    afterAll(() => harness.cleanup(fileLabels));

    it.each(schedulerContract.map((row, index) => ({ ...row, index })))('$behaviour', async ({ check, index }) => {
      const labels = { ...fileLabels, 'gofer.case': `${runId.slice(0, 8)}-${index}` };
      let seq = 0;
      const spec = (overrides: Partial<ContainerSpec> = {}): ContainerSpec => ({
        name: `gofer-contract-${runId.slice(0, 8)}-${index}-${++seq}`,
        image: harness.image,
        env: {},
        ...overrides,
        labels: { ...labels, ...overrides.labels },
      });
      try {
        await check({ scheduler: harness.scheduler, harness, spec, labels });
      } finally {
        await harness.cleanup(labels);
      }
    });
  });
}

const SERVICE_PORT_ENV = 'GOFER_CONTRACT_PORT';
// How long a service may take to answer, or to come back after a crash: generous, the engine backs off.
const SERVICE_DEADLINE_MS = 60_000;

/**
 * A service serving one page, `MARK` (unique per spec), over HTTP on the port the scheduler gives it:
 * what answers at the address is this service and no other process.
 */
export function serviceSpec(base: ContainerSpec): ServiceSpec {
  return {
    ...base,
    entrypoint: ['sh', '-c'],
    command: [`mkdir -p /tmp/www && printf %s "$MARK" > /tmp/www/index.html && exec httpd -f -p "$${SERVICE_PORT_ENV}" -h /tmp/www`],
    env: { MARK: `mark-${base.name}`, ...base.env },
    portEnv: SERVICE_PORT_ENV,
  };
}

/** The page the service at `address` serves, polling until it answers (it may still be starting). */
export async function dialService(address: string): Promise<string> {
  const url = new URL(`http://${address}/`);
  const deadline = Date.now() + SERVICE_DEADLINE_MS;
  for (;;) {
    try {
      return await new Promise<string>((resolve, reject) => {
        const req = get({ host: url.hostname, port: url.port, path: '/', agent: false, timeout: 5_000 }, (res) => {
          let body = '';
          res.setEncoding('utf8');
          res.on('data', (chunk: string) => (body += chunk));
          res.on('end', () => (res.statusCode === 200 ? resolve(body) : reject(new Error(`HTTP ${res.statusCode}`))));
          res.on('error', reject);
        });
        req.on('timeout', () => req.destroy(new Error('timed out')));
        req.on('error', reject);
      });
    } catch (err) {
      if (Date.now() > deadline) throw new Error(`service at ${address} never answered: ${String(err)}`);
      await sleep(100);
    }
  }
}

/** Polls inspectService until `done` holds for the service's state. */
export async function waitForService(scheduler: Scheduler, id: string, done: (info: ServiceInfo) => boolean): Promise<ServiceInfo> {
  const deadline = Date.now() + SERVICE_DEADLINE_MS;
  for (;;) {
    const info = await scheduler.inspectService(id);
    if (info && done(info)) return info;
    if (Date.now() > deadline) throw new Error(`service ${id} never reached the expected state; last seen: ${JSON.stringify(info)}`);
    await sleep(100);
  }
}

async function collect(iterable: AsyncIterable<LogChunk>): Promise<LogChunk[]> {
  const chunks: LogChunk[] = [];
  for await (const chunk of iterable) chunks.push(chunk);
  return chunks;
}

/** The container's whole output by stream, following it until it exits. */
async function output(scheduler: Scheduler, id: string): Promise<{ stdout: string; stderr: string }> {
  const chunks = await collect(scheduler.logs(id));
  const text = (stream: LogChunk['stream']) =>
    Buffer.concat(chunks.filter((c) => c.stream === stream).map((c) => c.data)).toString();
  return { stdout: text('stdout'), stderr: text('stderr') };
}

/** Follows the logs until `expected` is on stdout: the container is then past its setup (e.g. its trap). */
export async function waitForOutput(scheduler: Scheduler, id: string, expected: string): Promise<void> {
  let seen = '';
  const controller = new AbortController();
  for await (const chunk of scheduler.logs(id, controller.signal)) {
    if (chunk.stream === 'stdout') seen += chunk.data.toString();
    if (seen.includes(expected)) controller.abort();
  }
  expect(seen).toContain(expected);
}

async function schedulerError(promise: Promise<unknown>): Promise<SchedulerError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(SchedulerError);
  return err as SchedulerError;
}
