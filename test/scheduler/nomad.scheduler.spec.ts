// What is particular to the Nomad scheduler (the contract every engine passes is in
// nomad.scheduler.contract.spec.ts): the job it registers, blocking queries rather than polling, log
// streams that reconnect from their offset, placement failures and lost allocations, ACL tokens. Against
// the Nomad API stand-in (apps/nomad-dev), whose jobs run as real containers, through a counting proxy
// that can also cut connections.
import { randomUUID } from 'node:crypto';
import { createServer, request, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SchedulerError, type ContainerSpec, type Scheduler } from '@gofer/scheduler';
import { NomadClient } from '../../libs/scheduler/src/nomad/nomad.client.js';
import { createNomadScheduler } from '../../libs/scheduler/src/nomad/nomad.scheduler.js';
import { startNomadStandIn, type NomadStandIn } from '../../apps/nomad-dev/src/nomad-stand-in.js';

const TOKEN = `token-${randomUUID()}`;
let standIn: NomadStandIn;
let proxy: CountingProxy;
let scheduler: Scheduler;
let nomad: NomadClient;
const labels = { 'gofer.test': randomUUID() };
let serial = 0;

beforeAll(async () => {
  standIn = await startNomadStandIn({ token: TOKEN });
  proxy = await startCountingProxy(standIn.address);
  scheduler = createNomadScheduler({ address: proxy.address, token: TOKEN, networkMode: 'host', datacenters: ['dc1'], killTimeoutSeconds: 3 });
  nomad = new NomadClient({ address: standIn.address, token: TOKEN });
});

afterAll(async () => {
  await proxy?.close();
  await standIn?.close();
});

function spec(overrides: Partial<ContainerSpec> = {}): ContainerSpec {
  return {
    name: `gofer-nomad-spec-${labels['gofer.test'].slice(0, 8)}-${++serial}`,
    image: 'busybox:latest',
    env: {},
    labels,
    ...overrides,
  };
}

async function collect(id: string): Promise<{ stdout: string; stderr: string }> {
  const out = { stdout: '', stderr: '' };
  for await (const chunk of scheduler.logs(id)) out[chunk.stream] += chunk.data.toString();
  return out;
}

describe('Nomad scheduler', () => {
  it('registers one batch job per attempt, create-only, with Nomad\'s retries off and the spec mapped onto the docker task', async () => {
    const s = spec({
      entrypoint: ['sh', '-c'],
      command: ['echo "$A"', 'arg0'],
      env: { A: 'from env' },
      labels: { ...labels, 'gofer.task': 'shape' },
      registryAuth: { user: 'robot', pass: 'hunter2' },
      resources: { cpu: 0.5, memoryBytes: 64 * 1024 * 1024 },
    });
    const { id } = await scheduler.start(s);
    expect(await scheduler.wait(id)).toEqual({ exitCode: 0 });
    const job = (await nomad.job(id))!;
    expect(job).toMatchObject({ ID: s.name, Type: 'batch', Datacenters: ['dc1'], Meta: s.labels });
    const group = job.TaskGroups[0]!;
    expect(group.RestartPolicy).toMatchObject({ Attempts: 0, Mode: 'fail' });
    expect(group.ReschedulePolicy).toMatchObject({ Attempts: 0, Unlimited: false });
    expect(group.StopAfterClientDisconnect).toBe(30e9);
    expect(group.Tasks).toHaveLength(1);
    expect(group.Tasks[0]).toMatchObject({
      Driver: 'docker',
      Config: {
        image: 'busybox:latest', entrypoint: ['sh', '-c'], command: 'echo "$A"', args: ['arg0'], auth: { username: 'robot', password: 'hunter2' },
        network_mode: 'host', labels: [s.labels],
      },
      Env: { A: 'from env' },
      Resources: { CPU: 500, MemoryMB: 64 },
      KillTimeout: 3e9,
    });
    expect(await collect(id)).toEqual({ stdout: 'from env\n', stderr: '' });

    // The second start of the attempt is refused by Nomad (create-only) and adopts the job: one registration.
    expect(await scheduler.start(s)).toEqual({ id, name: s.name, adopted: true });
    expect(standIn.registrations(s.name)).toBe(1);
    await scheduler.remove(id);
  });

  it('keeps ${…} and %{…} in commands literal through Nomad\'s HCL decoding of the driver config', async () => {
    // Without the escaping Nomad would put its own NOMAD_JOB_ID in, and fail on HOME as an unknown variable.
    const { id } = await scheduler.start(spec({ command: ['sh', '-c', `echo '\${NOMAD_JOB_ID} \${HOME} %{x}'`] }));
    expect(await scheduler.wait(id)).toEqual({ exitCode: 0 });
    expect(await collect(id)).toEqual({ stdout: '${NOMAD_JOB_ID} ${HOME} %{x}\n', stderr: '' });
    await scheduler.remove(id);
  });

  it('follows an allocation with blocking queries, not by polling', async () => {
    const { id } = await scheduler.start(spec({ command: ['sh', '-c', 'sleep 3; echo done'] }));
    proxy.reset();
    expect(await scheduler.wait(id)).toEqual({ exitCode: 0 });
    // Polling every 100 ms would ask ~30 times; a blocking query is answered when something changes.
    const reads = proxy.count(`/v1/job/${id}/allocations`);
    expect(reads).toBeGreaterThan(0);
    expect(reads).toBeLessThan(10);
    expect(proxy.blocking(`/v1/job/${id}/allocations`)).toBeGreaterThan(0);
    await scheduler.remove(id);
  });

  it('reconnects a log stream cut off mid-way from its last offset: nothing lost, nothing twice', async () => {
    const script = 'for i in 1 2 3 4 5 6; do echo "line $i"; echo "err $i" >&2; sleep 0.5; done';
    const { id } = await scheduler.start(spec({ command: ['sh', '-c', script] }));
    const reading = collect(id);
    // Cut both log streams twice while the task writes (it writes for 3 s).
    for (let cut = 0; cut < 2; cut++) {
      await new Promise((resolve) => setTimeout(resolve, 800));
      expect(proxy.cut('/v1/client/fs/logs/')).toBe(2);
    }
    const expected = (prefix: string) => [1, 2, 3, 4, 5, 6].map((i) => `${prefix} ${i}\n`).join('');
    expect(await reading).toEqual({ stdout: expected('line'), stderr: expected('err') });
    expect(proxy.count('/v1/client/fs/logs/')).toBeGreaterThan(2); // it did reconnect
    await scheduler.remove(id);
  });

  it('a placement failure fails the start as unschedulable with Nomad\'s explanation, and leaves no job behind', async () => {
    standIn.failNextPlacement();
    const s = spec({ command: ['true'] });
    const err = await scheduler.start(s).then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(SchedulerError);
    expect(err).toMatchObject({ kind: 'unschedulable' });
    expect((err as Error).message).toBe(
      `Nomad could not place job "${s.name}": task group "gofer" failed to place 1 allocation: ` +
        'constraint "${attr.kernel.name} = windows": 3 nodes excluded by filter (evaluation blocked, waiting for capacity)',
    );
    expect(await scheduler.inspect(s.name)).toBeUndefined();
    // The next start places normally.
    const { id } = await scheduler.start(spec({ command: ['true'] }));
    expect(await scheduler.wait(id)).toEqual({ exitCode: 0 });
  });

  it('a lost allocation makes wait fail with kind lost, and the replacement Nomad places is stopped', async () => {
    const { id } = await scheduler.start(spec({ command: ['sh', '-c', 'echo ready; sleep 300'] }));
    const waiting = scheduler.wait(id).then(() => undefined, (e: unknown) => e);
    const { value: [alloc] } = await nomad.jobAllocations(id);
    expect(await standIn.loseAllocation(alloc!.ID)).toBe(true);
    const err = await waiting;
    expect(err).toBeInstanceOf(SchedulerError);
    expect(err).toMatchObject({ kind: 'lost' });
    expect((err as Error).message).toBe(`Nomad lost allocation ${alloc!.ID.slice(0, 8)} of job "${id}": alloc is lost since its node is down`);
    // Nomad placed a replacement (whatever the reschedule policy): the attempt must not run there.
    const { value: allocs } = await nomad.jobAllocations(id);
    expect(allocs).toHaveLength(2);
    const replacement = allocs.find((a) => a.ID !== alloc!.ID)!;
    expect(replacement).toMatchObject({ DesiredStatus: 'stop' });
    expect((await nomad.job(id))!.Stop).toBe(true);
    expect(standIn.registrations(id)).toBe(1);
    // A later wait (an adopter's) says the same.
    await expect(scheduler.wait(id)).rejects.toMatchObject({ kind: 'lost' });
    await scheduler.remove(id);
  });

  it('without the ACL token every call is refused with a message that names GOFER_NOMAD_TOKEN', async () => {
    const anonymous = createNomadScheduler({ address: standIn.address, networkMode: 'host' });
    for (const call of [() => anonymous.start(spec({ command: ['true'] })), () => anonymous.inspect('anything'), () => anonymous.list(labels)]) {
      const err = await call().then(() => undefined, (e: unknown) => e);
      expect(err).toBeInstanceOf(SchedulerError);
      expect(err).toMatchObject({ kind: 'engine_error' });
      expect((err as Error).message).toMatch(/Permission denied \(check GOFER_NOMAD_TOKEN and its policy\)$/);
    }
  });
});

interface CountingProxy {
  address: string;
  /** Requests whose path starts with `prefix` since the last reset. */
  count(prefix: string): number;
  /** Of those, how many were blocking queries (carried `index`). */
  blocking(prefix: string): number;
  reset(): void;
  /** Destroys the open connections of requests whose path starts with `prefix`; how many it cut. */
  cut(prefix: string): number;
  close(): Promise<void>;
}

/** An HTTP forwarder that counts requests by path and can cut the connections of some of them. */
async function startCountingProxy(target: string): Promise<CountingProxy> {
  const upstream = new URL(target);
  let seen: Array<{ path: string; blocking: boolean }> = [];
  const open = new Map<Socket, string>();
  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://proxy');
    seen.push({ path: url.pathname, blocking: url.searchParams.has('index') });
    open.set(req.socket, url.pathname);
    res.on('close', () => open.delete(req.socket));
    const forward = request(
      { host: upstream.hostname, port: upstream.port, path: req.url, method: req.method, headers: req.headers },
      (reply) => {
        res.writeHead(reply.statusCode ?? 502, reply.headers);
        reply.pipe(res);
      },
    );
    forward.on('error', () => res.destroy());
    res.on('close', () => forward.destroy());
    req.pipe(forward);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  const matching = (prefix: string) => seen.filter((r) => r.path.startsWith(prefix));
  return {
    address: `http://127.0.0.1:${port}`,
    count: (prefix) => matching(prefix).length,
    blocking: (prefix) => matching(prefix).filter((r) => r.blocking).length,
    reset: () => (seen = []),
    cut(prefix) {
      let cut = 0;
      for (const [socket, path] of open) {
        if (!path.startsWith(prefix)) continue;
        socket.destroy();
        cut++;
      }
      return cut;
    },
    async close() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
