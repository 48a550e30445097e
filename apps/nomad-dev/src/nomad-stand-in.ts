// A stand-in for the parts of Nomad's HTTP API (1.7–1.9) that Gofer's Nomad scheduler uses, for tests
// and development: no Nomad binary can be installed on the build machines. Shapes follow Nomad's API
// docs (the JSON samples in apps/nomad-dev/test-fixtures are checked against it by
// test/nomad-dev/nomad-stand-in.spec.ts); each allocation's `docker` task runs as a real container on
// the local Docker engine. It is a development aid, not a product feature: one node, one task group
// with one task per job, no deployments, no rescheduling.
import { randomUUID, timingSafeEqual } from 'node:crypto';
import { setMaxListeners } from 'node:events';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createNetServer } from 'node:net';
import Docker from 'dockerode';
import { AllocationRun, INSTANCE_LABEL, isTerminal, type RunContext } from './docker-task.runner.js';
import { FilterError, parseFilter } from './list-filter.js';
import { StandInState, nowNs, type NomadObject } from './stand-in.state.js';

export interface NomadStandInOptions {
  /** TCP port on 127.0.0.1. @default 0 (any free port) */
  port?: number;
  /** When set, every `/v1/` request must carry it in `X-Nomad-Token` (or `Authorization: Bearer`). */
  token?: string;
  /** Docker engine socket. @default '/var/run/docker.sock' */
  dockerSocket?: string;
  /** How often an idle log stream sends a `{}` heartbeat frame, in ms. @default 1000 */
  heartbeatMs?: number;
}

export interface NomadStandIn {
  /** `http://127.0.0.1:<port>`, what `NOMAD_ADDR` / `GOFER_NOMAD_ADDR` take. */
  address: string;
  /** The value of the `gofer.nomad-dev.instance` label on every container this stand-in starts. */
  instanceId: string;
  /** Makes the next registration's placement fail (see `POST /_standin/fail-placement`). */
  failNextPlacement(metrics?: NomadObject): void;
  /**
   * Marks an allocation `lost` and kills its container, as a node that went down (see `POST
   * /_standin/lose/:alloc`); like Nomad, places a replacement allocation of a job still running.
   */
  loseAllocation(allocId: string): Promise<boolean>;
  /**
   * How many registrations of this job (`namespace/id`, or `id` in "default") created it (or started it
   * again after a stop): what a test asserts when it says a task attempt was placed exactly once.
   */
  registrations(jobId: string): number;
  /** Empties a task's log file (see `POST /_standin/truncate-logs/:alloc`). */
  truncateLogs(allocId: string, task: string, type: 'stdout' | 'stderr'): boolean;
  /** Stops serving and removes every container this stand-in started. */
  close(): Promise<void>;
}

const NODE_NAME = 'nomad-dev';
const DATACENTER = 'dc1';
const DEFAULT_WAIT_MS = 5 * 60_000; // Nomad's default blocking wait
const MAX_WAIT_MS = 10 * 60_000;
const FRAME_BYTES = 64 * 1024; // Nomad's stream framer sends at most 64 KiB per frame

class HttpError extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
  }
}

export async function startNomadStandIn(options: NomadStandInOptions = {}): Promise<NomadStandIn> {
  const state = new StandInState();
  const instanceId = randomUUID();
  const nodeId = randomUUID();
  const docker = new Docker({ socketPath: options.dockerSocket ?? '/var/run/docker.sock' });
  const runs = new Map<string, AllocationRun>();
  const heartbeatMs = options.heartbeatMs ?? 1000;
  let placementFailure: NomadObject | undefined;
  const registrations = new Map<string, number>();
  const closing = new AbortController();
  // Every followed log stream listens for the close: there are as many as the clients follow.
  setMaxListeners(0, closing.signal);

  const ctx: RunContext = {
    docker, state, instanceId,
    changed: (alloc) => refreshJobStatus(alloc.Namespace, alloc.JobID),
  };

  function jobKey(namespace: string, id: string): string {
    return `${namespace}/${id}`;
  }

  function jobAllocs(namespace: string, id: string): NomadObject[] {
    return [...state.allocs.values()].filter((a) => a.Namespace === namespace && a.JobID === id);
  }

  /** Nomad's job status: pending until placed, running while any allocation is, dead once all ended. */
  function refreshJobStatus(namespace: string, id: string): void {
    const job = state.jobs.get(jobKey(namespace, id));
    if (!job) return;
    // Allocations of an earlier, purged job with the same ID stay listed (until GC) but do not count.
    const allocs = jobAllocs(namespace, id).filter((a) => a.CreateIndex >= job.CreateIndex);
    const status = allocs.length === 0 ? (job.Stop ? 'dead' : 'pending') : allocs.some((a) => !isTerminal(a)) ? 'running' : 'dead';
    if (job.Status !== status) {
      job.Status = status;
      state.write(job);
    }
  }

  async function register(body: NomadObject, query: URLSearchParams, pathId?: string): Promise<NomadObject> {
    const job = body?.Job as NomadObject | undefined;
    if (!job || typeof job !== 'object') throw new HttpError(400, 'Job must be specified');
    if (typeof job.ID !== 'string' || job.ID === '') throw new HttpError(400, 'Job ID hasn\'t been provided');
    if (pathId !== undefined && pathId !== job.ID) throw new HttpError(400, 'Job ID does not match name');
    const namespace = String(job.Namespace || query.get('namespace') || 'default');
    const group = validateJob(job);
    const key = jobKey(namespace, job.ID);
    const existing = state.jobs.get(key);
    if (body.EnforceIndex) {
      const want = Number(body.JobModifyIndex ?? 0);
      const prefix = `Enforcing job modify index ${want}`;
      if (want === 0 && existing) throw new HttpError(500, `${prefix}: job already exists`);
      if (want !== 0 && !existing) throw new HttpError(500, `${prefix}: job does not exist`);
      if (want !== 0 && existing && existing.JobModifyIndex !== want) {
        throw new HttpError(500, `${prefix}: job exists with conflicting job modify index: ${existing.JobModifyIndex}`);
      }
    }
    const now = nowNs();
    const stored: NomadObject = {
      Region: 'global', ParentID: '', Name: job.ID, Type: 'service', Priority: 50, AllAtOnce: false,
      Datacenters: [DATACENTER], NodePool: 'default', Constraints: null, Affinities: null, Spreads: null,
      Update: null, Multiregion: null, Periodic: null, ParameterizedJob: null, Dispatched: false, Payload: null,
      Meta: null, ConsulToken: '', VaultToken: '', Stable: false,
      ...structuredClone(job),
      Namespace: namespace,
      Stop: false, Status: 'pending', StatusDescription: '',
      Version: existing ? existing.Version + 1 : 0,
      SubmitTime: now,
      CreateIndex: existing?.CreateIndex ?? 0, ModifyIndex: 0, JobModifyIndex: 0,
    };
    const evaluation = newEval(stored, 'job-register');
    const index = state.write(stored, evaluation);
    stored.CreateIndex = existing?.CreateIndex ?? index;
    stored.JobModifyIndex = index;
    evaluation.CreateIndex = index;
    evaluation.JobModifyIndex = index;
    state.jobs.set(key, stored);
    state.evals.set(evaluation.ID, evaluation);
    // Re-registering a live job updates it in place; one that was stopped (or is new) gets an allocation.
    if (!existing || existing.Stop) {
      registrations.set(key, (registrations.get(key) ?? 0) + 1);
      await place(stored, group, evaluation);
    } else {
      evaluation.Status = 'complete';
      state.write(evaluation);
    }
    return {
      EvalID: evaluation.ID, EvalCreateIndex: index, JobModifyIndex: index, Warnings: '',
      Index: index, LastContact: 0, KnownLeader: false, NextToken: '',
    };
  }

  function newEval(job: NomadObject, triggeredBy: string): NomadObject {
    const now = nowNs();
    return {
      ID: randomUUID(), Namespace: job.Namespace, Priority: job.Priority, Type: job.Type, TriggeredBy: triggeredBy,
      JobID: job.ID, JobModifyIndex: job.JobModifyIndex, NodeID: '', NodeModifyIndex: 0, DeploymentID: '',
      Status: 'pending', StatusDescription: '', Wait: 0, WaitUntil: null, NextEval: '', PreviousEval: '',
      BlockedEval: '', RelatedEvals: null, FailedTGAllocs: null, ClassEligibility: null, QuotaLimitReached: '',
      EscapedComputedClass: false, AnnotatePlan: false, QueuedAllocations: null, LeaderACL: '', SnapshotIndex: 0,
      CreateIndex: 0, ModifyIndex: 0, CreateTime: now, ModifyTime: now,
    };
  }

  function metrics(overrides: NomadObject = {}): NomadObject {
    return {
      NodesEvaluated: 1, NodesFiltered: 0, NodesInPool: 1, NodesAvailable: { [DATACENTER]: 1 }, ClassFiltered: null,
      ConstraintFiltered: null, NodesExhausted: 0, ClassExhausted: null, DimensionExhausted: null,
      QuotaExhausted: null, ResourcesExhausted: null, Scores: null, ScoreMetaData: null, AllocationTime: 0,
      CoalescedFailures: 0, ...overrides,
    };
  }

  /** The scheduler's pass over the evaluation: one allocation, or a blocked evaluation when injected. */
  async function place(job: NomadObject, group: NomadObject, evaluation: NomadObject): Promise<void> {
    if (placementFailure) {
      const failure = placementFailure;
      placementFailure = undefined;
      const blocked = newEval(job, 'queued-allocs');
      blocked.Status = 'blocked';
      blocked.StatusDescription = 'created due to placement conflicts';
      blocked.PreviousEval = evaluation.ID;
      blocked.FailedTGAllocs = { [group.Name]: metrics(failure) };
      blocked.QueuedAllocations = { [group.Name]: 1 };
      Object.assign(evaluation, {
        Status: 'complete', BlockedEval: blocked.ID, FailedTGAllocs: { [group.Name]: metrics(failure) },
        QueuedAllocations: { [group.Name]: 1 },
      });
      const index = state.write(evaluation, blocked);
      blocked.CreateIndex = index;
      state.evals.set(blocked.ID, blocked);
      return;
    }
    const task = group.Tasks[0] as NomadObject;
    const ports = await allocatePorts(group, task);
    const allocId = randomUUID();
    const env: Record<string, string> = {
      ...Object.fromEntries(Object.entries((task.Env ?? {}) as Record<string, unknown>).map(([k, v]) => [k, String(v)])),
      NOMAD_ALLOC_ID: allocId, NOMAD_SHORT_ALLOC_ID: allocId.slice(0, 8), NOMAD_ALLOC_NAME: `${job.ID}.${group.Name}[0]`,
      NOMAD_ALLOC_INDEX: '0', NOMAD_JOB_ID: job.ID, NOMAD_JOB_NAME: job.Name, NOMAD_GROUP_NAME: group.Name,
      NOMAD_TASK_NAME: task.Name, NOMAD_NAMESPACE: job.Namespace, NOMAD_DC: DATACENTER, NOMAD_REGION: 'global',
      NOMAD_CPU_LIMIT: String(task.Resources?.CPU ?? 100), NOMAD_MEMORY_LIMIT: String(task.Resources?.MemoryMB ?? 300),
    };
    for (const port of ports) {
      env[`NOMAD_PORT_${port.label}`] = String(port.to);
      env[`NOMAD_HOST_PORT_${port.label}`] = String(port.value);
      env[`NOMAD_IP_${port.label}`] = '127.0.0.1';
      env[`NOMAD_HOST_IP_${port.label}`] = '127.0.0.1';
      env[`NOMAD_ADDR_${port.label}`] = `127.0.0.1:${port.value}`;
      env[`NOMAD_ALLOC_PORT_${port.label}`] = String(port.to);
    }
    const networks = ports.length === 0 ? null : [{
      Mode: 'host', Device: 'lo', CIDR: '', IP: '127.0.0.1', Hostname: '', MBits: 0, DNS: null,
      ReservedPorts: portList(ports.filter((p) => p.reserved)), DynamicPorts: portList(ports.filter((p) => !p.reserved)),
    }];
    const cpu = Number(task.Resources?.CPU ?? 100);
    const memory = Number(task.Resources?.MemoryMB ?? 300);
    const now = nowNs();
    const alloc: NomadObject = {
      ID: allocId, Namespace: job.Namespace, EvalID: evaluation.ID, Name: `${job.ID}.${group.Name}[0]`,
      NodeID: nodeId, NodeName: NODE_NAME, JobID: job.ID, Job: structuredClone(job), JobType: job.Type,
      JobVersion: job.Version, TaskGroup: group.Name,
      Resources: { CPU: cpu, Cores: 0, MemoryMB: memory, MemoryMaxMB: 0, DiskMB: 0, IOPS: 0, Networks: networks, Devices: null },
      SharedResources: { CPU: 0, MemoryMB: 0, DiskMB: 0, Networks: networks },
      TaskResources: { [task.Name]: { CPU: cpu, MemoryMB: memory, DiskMB: 0, Networks: networks } },
      AllocatedResources: {
        Tasks: { [task.Name]: { Cpu: { CpuShares: cpu, ReservedCores: null }, Memory: { MemoryMB: memory, MemoryMaxMB: 0 }, Networks: null, Devices: null } },
        TaskLifecycles: { [task.Name]: null },
        Shared: {
          DiskMB: 0, Networks: networks,
          Ports: ports.map((p) => ({ Label: p.label, Value: p.value, To: p.to, HostIP: '127.0.0.1' })),
        },
      },
      Metrics: metrics(),
      DesiredStatus: 'run', DesiredDescription: '',
      DesiredTransition: { Migrate: null, Reschedule: null, ForceReschedule: null, NoShutdownDelay: null },
      ClientStatus: 'pending', ClientDescription: 'No tasks have started',
      TaskStates: {
        [task.Name]: { State: 'pending', Failed: false, Restarts: 0, LastRestart: null, StartedAt: null, FinishedAt: null, Events: [], TaskHandle: null },
      },
      AllocStates: null, PreviousAllocation: '', NextAllocation: '', DeploymentID: '', DeploymentStatus: null,
      RescheduleTracker: null, NetworkStatus: null, FollowupEvalID: '', PreemptedAllocations: null,
      PreemptedByAllocation: '', SignedIdentities: null,
      CreateIndex: 0, ModifyIndex: 0, AllocModifyIndex: 0, CreateTime: now, ModifyTime: now,
    };
    evaluation.Status = 'complete';
    evaluation.QueuedAllocations = { [group.Name]: 0 };
    const index = state.write(alloc, evaluation);
    alloc.CreateIndex = index;
    state.allocs.set(allocId, alloc);
    runs.set(allocId, new AllocationRun(ctx, alloc, task, group, job.Type, env, ports));
    refreshJobStatus(job.Namespace, job.ID);
  }

  async function deregister(namespace: string, id: string, purge: boolean): Promise<NomadObject> {
    const key = jobKey(namespace, id);
    const job = state.jobs.get(key);
    if (!job) throw new HttpError(404, 'job not found');
    job.Stop = true;
    const evaluation = newEval(job, 'job-deregister');
    evaluation.Status = 'complete';
    const index = state.write(job, evaluation);
    evaluation.CreateIndex = index;
    state.evals.set(evaluation.ID, evaluation);
    if (purge) {
      state.jobs.delete(key);
      state.write();
    }
    // The client stops the allocations after the server answered, as a real cluster does.
    for (const alloc of jobAllocs(namespace, id)) void runs.get(alloc.ID)?.stop('alloc not needed due to job update');
    return { EvalID: evaluation.ID, EvalCreateIndex: index, JobModifyIndex: index, VolumeEvalID: '', VolumeEvalIndex: 0, Index: index, LastContact: 0, KnownLeader: false, NextToken: '' };
  }

  function jobStub(job: NomadObject, withMeta: boolean): NomadObject {
    const allocs = jobAllocs(job.Namespace, job.ID);
    const count = (status: string) => allocs.filter((a) => a.ClientStatus === status).length;
    const group = job.TaskGroups?.[0]?.Name;
    return {
      ID: job.ID, ParentID: job.ParentID, Name: job.Name, Namespace: job.Namespace, Datacenters: job.Datacenters,
      NodePool: job.NodePool, Multiregion: null, Type: job.Type, Priority: job.Priority, Periodic: false,
      ParameterizedJob: false, Stop: job.Stop, Status: job.Status, StatusDescription: job.StatusDescription,
      JobSummary: {
        JobID: job.ID, Namespace: job.Namespace,
        Summary: group ? { [group]: { Queued: 0, Complete: count('complete'), Failed: count('failed'), Running: count('running'), Starting: count('pending'), Lost: count('lost'), Unknown: 0 } } : {},
        Children: { Pending: 0, Running: 0, Dead: 0 }, CreateIndex: job.CreateIndex, ModifyIndex: job.ModifyIndex,
      },
      CreateIndex: job.CreateIndex, ModifyIndex: job.ModifyIndex, JobModifyIndex: job.JobModifyIndex, SubmitTime: job.SubmitTime,
      ...(withMeta && { Meta: job.Meta ?? null }),
    };
  }

  function allocStub(alloc: NomadObject, resources: boolean, taskStates: boolean): NomadObject {
    const { Job: _job, Resources: _r, SharedResources: _s, TaskResources: _t, Metrics: _m, AllocatedResources, TaskStates, ...rest } = alloc;
    return { ...rest, AllocatedResources: resources ? AllocatedResources : null, TaskStates: taskStates ? TaskStates : null };
  }

  /** Answers a read the way Nomad's blocking queries do: held until its index passes `index`, or `wait` ends. */
  async function blockingRead(
    req: IncomingMessage, res: ServerResponse, query: URLSearchParams,
    read: () => { index: number; body?: unknown; error?: HttpError },
  ): Promise<void> {
    const minIndex = Number(query.get('index') ?? 0);
    let waitMs = query.has('wait') ? parseGoDuration(query.get('wait')!) : DEFAULT_WAIT_MS;
    waitMs = Math.min(waitMs, MAX_WAIT_MS);
    waitMs += Math.random() * (waitMs / 16); // Nomad adds up to wait/16 of jitter
    const deadline = Date.now() + waitMs;
    const gone = new AbortController();
    res.once('close', () => gone.abort());
    const abort = AbortSignal.any([gone.signal, closing.signal]);
    let result = read();
    while (minIndex > 0 && result.index <= minIndex && Date.now() < deadline && !abort.aborted) {
      await state.nextWrite(deadline - Date.now(), abort);
      result = read();
    }
    if (abort.aborted && gone.signal.aborted) return;
    res.setHeader('X-Nomad-Index', String(Math.max(1, result.index)));
    res.setHeader('X-Nomad-KnownLeader', 'true');
    res.setHeader('X-Nomad-LastContact', '0');
    if (result.error) return sendError(res, result.error);
    sendJson(res, 200, result.body);
    void req;
  }

  function streamLogs(req: IncomingMessage, res: ServerResponse, allocId: string, query: URLSearchParams): void {
    const alloc = state.allocs.get(allocId);
    if (!alloc) throw new HttpError(404, `Unknown allocation "${allocId}"`);
    const task = query.get('task');
    if (!task) throw new HttpError(400, 'must include task name');
    const type = query.get('type');
    if (type !== 'stdout' && type !== 'stderr') throw new HttpError(400, `invalid log type "${type}"`);
    const run = runs.get(allocId);
    if (!run || !(task in alloc.TaskStates)) throw new HttpError(404, `unknown task name "${task}"`);
    const log = run.logs[type];
    const follow = query.get('follow') === 'true';
    const plain = query.get('plain') === 'true';
    const origin = query.get('origin') ?? 'start';
    if (origin !== 'start' && origin !== 'end') throw new HttpError(400, 'origin must be start or end');
    const offset = Number(query.get('offset') ?? 0);
    if (!Number.isInteger(offset) || offset < 0) throw new HttpError(400, 'offset must be a non-negative integer');
    let position = origin === 'start' ? Math.min(offset, log.size) : Math.max(0, log.size - offset);

    res.writeHead(200, { 'Content-Type': plain ? 'text/plain' : 'application/json' });
    // Frames are concatenated JSON objects with nothing between them, as Nomad's encoder writes them.
    const send = (frame: NomadObject) => res.write(JSON.stringify(frame));
    const flush = () => {
      const data = log.read(position);
      for (let start = 0; start < data.length; start += FRAME_BYTES) {
        const chunk = data.subarray(start, start + FRAME_BYTES);
        position += chunk.length;
        // `Offset` is where the file stands after this frame's data: resume from it.
        if (plain) res.write(chunk);
        else send({ Data: chunk.toString('base64'), File: log.file, Offset: position });
      }
      return data.length > 0;
    };
    flush();
    if (!follow) return void res.end();
    let sentSince = false;
    const unsubscribe = log.onChange((event) => {
      if (event === 'file truncated') {
        position = 0;
        if (!plain) send({ File: log.file, FileEvent: event, Offset: 0 });
      }
      sentSince = flush() || sentSince;
    });
    // With `follow`, Nomad keeps the stream open after the task ended (nomad#18369), sending heartbeats.
    const heartbeat = setInterval(() => {
      if (!sentSince && !plain) send({});
      sentSince = false;
    }, heartbeatMs);
    const stop = () => {
      clearInterval(heartbeat);
      unsubscribe();
      closing.signal.removeEventListener('abort', end);
    };
    const end = () => (stop(), res.end());
    closing.signal.addEventListener('abort', end, { once: true });
    res.once('close', stop);
    void req;
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const path = url.pathname.replace(/\/+$/, '');
    const query = url.searchParams;
    const method = req.method ?? 'GET';
    const namespace = query.get('namespace') || 'default';
    if (path.startsWith('/v1/') && options.token !== undefined && !tokenMatches(req, options.token)) {
      throw new HttpError(403, 'Permission denied');
    }
    let match: RegExpExecArray | null;
    if (path === '/v1/status/leader' && method === 'GET') return sendJson(res, 200, '127.0.0.1:4647');
    if (path === '/v1/jobs' && (method === 'PUT' || method === 'POST')) {
      return sendJson(res, 200, await register(await readJson(req), query));
    }
    if (path === '/v1/jobs' && method === 'GET') {
      const prefix = query.get('prefix') ?? '';
      const filter = query.get('filter');
      let matches: (o: Record<string, unknown>) => boolean = () => true;
      if (filter) {
        try {
          matches = parseFilter(filter);
        } catch (err) {
          if (err instanceof FilterError) throw new HttpError(400, err.message);
          throw err;
        }
      }
      const withMeta = query.get('meta') === 'true';
      return blockingRead(req, res, query, () => {
        const jobs = [...state.jobs.values()]
          .filter((j) => (namespace === '*' || j.Namespace === namespace) && j.ID.startsWith(prefix))
          .sort((a, b) => a.ID.localeCompare(b.ID));
        const index = Math.max(0, ...jobs.map((j) => j.ModifyIndex), tableIndex());
        // Nomad applies the filter to each job before it makes the stub, so Meta matches without `meta=true`.
        try {
          const listed = jobs.filter((j) => matches({ ...jobStub(j, true) })).map((j) => jobStub(j, withMeta));
          return { index, body: listed };
        } catch (err) {
          if (err instanceof FilterError) return { index, error: new HttpError(400, err.message) };
          throw err;
        }
      });
    }
    if ((match = /^\/v1\/job\/([^/]+)$/.exec(path))) {
      const id = decodeURIComponent(match[1]!);
      if (method === 'PUT' || method === 'POST') return sendJson(res, 200, await register(await readJson(req), query, id));
      if (method === 'DELETE') return sendJson(res, 200, await deregister(namespace, id, query.get('purge') === 'true'));
      if (method === 'GET') {
        return blockingRead(req, res, query, () => {
          const job = state.jobs.get(jobKey(namespace, id));
          return job ? { index: job.ModifyIndex, body: job } : { index: tableIndex(), error: new HttpError(404, 'job not found') };
        });
      }
    }
    if ((match = /^\/v1\/job\/([^/]+)\/allocations$/.exec(path)) && method === 'GET') {
      const id = decodeURIComponent(match[1]!);
      return blockingRead(req, res, query, () => {
        const allocs = jobAllocs(namespace, id);
        return { index: Math.max(tableIndex(), ...allocs.map((a) => a.ModifyIndex)), body: allocs.map((a) => allocStub(a, false, true)) };
      });
    }
    if ((match = /^\/v1\/job\/([^/]+)\/evaluations$/.exec(path)) && method === 'GET') {
      const id = decodeURIComponent(match[1]!);
      return blockingRead(req, res, query, () => {
        const evals = [...state.evals.values()].filter((e) => e.Namespace === namespace && e.JobID === id);
        return { index: Math.max(tableIndex(), ...evals.map((e) => e.ModifyIndex)), body: evals };
      });
    }
    if ((match = /^\/v1\/allocation\/([^/]+)$/.exec(path)) && method === 'GET') {
      const id = decodeURIComponent(match[1]!);
      return blockingRead(req, res, query, () => {
        const alloc = state.allocs.get(id);
        return alloc ? { index: alloc.ModifyIndex, body: alloc } : { index: tableIndex(), error: new HttpError(404, 'alloc not found') };
      });
    }
    if ((match = /^\/v1\/evaluation\/([^/]+)$/.exec(path)) && method === 'GET') {
      const id = decodeURIComponent(match[1]!);
      return blockingRead(req, res, query, () => {
        const evaluation = state.evals.get(id);
        return evaluation ? { index: evaluation.ModifyIndex, body: evaluation } : { index: tableIndex(), error: new HttpError(404, 'eval not found') };
      });
    }
    if ((match = /^\/v1\/client\/allocation\/([^/]+)\/signal$/.exec(path)) && (method === 'PUT' || method === 'POST')) {
      const allocId = decodeURIComponent(match[1]!);
      const run = runs.get(allocId);
      if (!run) throw new HttpError(404, `Unknown allocation "${allocId}"`);
      const body = await readJson(req);
      await run.signal(String(body?.Signal ?? ''), body?.Task ? String(body.Task) : undefined);
      return sendJson(res, 200, {});
    }
    if ((match = /^\/v1\/client\/fs\/logs\/([^/]+)$/.exec(path)) && method === 'GET') {
      return streamLogs(req, res, decodeURIComponent(match[1]!), query);
    }
    // Fault injection for tests: not part of Nomad's API.
    if (path === '/_standin/fail-placement' && method === 'POST') {
      const body = await readJson(req).catch(() => ({}));
      standIn.failNextPlacement(body ?? {});
      return sendJson(res, 200, {});
    }
    if ((match = /^\/_standin\/lose\/([^/]+)$/.exec(path)) && method === 'POST') {
      if (!(await standIn.loseAllocation(decodeURIComponent(match[1]!)))) throw new HttpError(404, 'alloc not found');
      return sendJson(res, 200, {});
    }
    if ((match = /^\/_standin\/truncate-logs\/([^/]+)$/.exec(path)) && method === 'POST') {
      const type = query.get('type') === 'stderr' ? 'stderr' : 'stdout';
      if (!standIn.truncateLogs(decodeURIComponent(match[1]!), query.get('task') ?? '', type)) throw new HttpError(404, 'alloc not found');
      return sendJson(res, 200, {});
    }
    throw new HttpError(404, `Invalid URL path or method: ${method} ${path}`);
  }

  /** The index a read answers with when its object does not exist: Nomad's table index. */
  function tableIndex(): number {
    return state.lastIndex;
  }

  async function allocatePorts(group: NomadObject, task: NomadObject) {
    const networks = [...((group.Networks ?? []) as NomadObject[]), ...((task.Resources?.Networks ?? []) as NomadObject[])];
    const ports: { label: string; value: number; to: number; reserved: boolean }[] = [];
    for (const network of networks) {
      for (const port of (network.ReservedPorts ?? []) as NomadObject[]) {
        ports.push({ label: port.Label, value: port.Value, to: port.To > 0 ? port.To : port.Value, reserved: true });
      }
      for (const port of (network.DynamicPorts ?? []) as NomadObject[]) {
        const value = await freePort();
        ports.push({ label: port.Label, value, to: port.To > 0 ? port.To : value, reserved: false });
      }
    }
    return ports;
  }

  const server = createServer((req, res) => {
    handle(req, res).catch((err) => {
      if (res.headersSent) return void res.destroy();
      if (err instanceof HttpError) return sendError(res, err);
      const status = (err as { status?: unknown }).status;
      if (typeof status === 'number') return sendError(res, new HttpError(status, (err as Error).message));
      sendError(res, new HttpError(500, err instanceof Error ? err.message : String(err)));
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as { port: number };

  const standIn: NomadStandIn = {
    address: `http://127.0.0.1:${port}`,
    instanceId,
    failNextPlacement(overrides = {}) {
      placementFailure = {
        NodesEvaluated: 3, NodesFiltered: 3, NodesAvailable: { [DATACENTER]: 3 },
        ConstraintFiltered: { '${attr.kernel.name} = windows': 3 }, ...overrides,
      };
    },
    async loseAllocation(allocId) {
      const run = runs.get(allocId);
      if (!run) return false;
      const lost = run.alloc;
      const job = state.jobs.get(jobKey(lost.Namespace, lost.JobID));
      // Nomad replaces the allocations of a lost node whatever the reschedule policy says (its
      // reschedule docs: "When a node is lost, Nomad replaces the allocations instead and ignores the
      // reschedule block"). The replacement is placed before the old one is reported lost, so no
      // reader sees the loss without it.
      if (job && !job.Stop && !isTerminal(lost)) {
        const evaluation = newEval(job, 'node-update');
        const index = state.write(evaluation);
        evaluation.CreateIndex = index;
        state.evals.set(evaluation.ID, evaluation);
        const before = new Set(runs.keys());
        await place(job, job.TaskGroups[0], evaluation);
        const replacement = [...runs.keys()].find((id) => !before.has(id));
        if (replacement) {
          lost.NextAllocation = replacement;
          state.allocs.get(replacement)!.PreviousAllocation = lost.ID;
        }
      }
      await run.lose();
      return true;
    },
    registrations(jobId) {
      return registrations.get(jobId.includes('/') ? jobId : jobKey('default', jobId)) ?? 0;
    },
    truncateLogs(allocId, task, type) {
      const run = runs.get(allocId);
      if (!run || !(task in run.alloc.TaskStates)) return false;
      run.logs[type].truncate();
      return true;
    },
    async close() {
      closing.abort();
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
      await Promise.all([...runs.values()].map((run) => run.dispose()));
      // Anything left behind by a run that was still being created.
      const left = await docker.listContainers({ all: true, filters: JSON.stringify({ label: [`${INSTANCE_LABEL}=${instanceId}`] }) });
      await Promise.all(left.map((c) => docker.getContainer(c.Id).remove({ force: true, v: true }).catch(() => {})));
    },
  };
  return standIn;
}

/** The one task group with one `docker` task that Gofer registers; anything else is refused. */
function validateJob(job: NomadObject): NomadObject {
  const type = job.Type ?? 'service';
  if (!['batch', 'service'].includes(type)) throw new HttpError(400, `nomad-dev supports batch and service jobs, not "${type}"`);
  const groups = job.TaskGroups as NomadObject[] | undefined;
  if (!Array.isArray(groups) || groups.length !== 1) {
    throw new HttpError(500, '1 error occurred:\n\t* nomad-dev runs jobs with exactly one task group\n\n');
  }
  const group = groups[0]!;
  if ((group.Count ?? 1) !== 1) throw new HttpError(500, '1 error occurred:\n\t* nomad-dev runs task groups of count 1\n\n');
  const tasks = group.Tasks as NomadObject[] | undefined;
  if (!Array.isArray(tasks) || tasks.length !== 1) {
    throw new HttpError(500, '1 error occurred:\n\t* nomad-dev runs task groups with exactly one task\n\n');
  }
  const task = tasks[0]!;
  if (task.Driver !== 'docker') throw new HttpError(500, `1 error occurred:\n\t* Task ${task.Name}: nomad-dev runs only the docker driver\n\n`);
  if (typeof task.Config?.image !== 'string' || task.Config.image === '') {
    throw new HttpError(500, `1 error occurred:\n\t* Task ${task.Name}: image is required in the docker task config\n\n`);
  }
  return group;
}

function portList(ports: { label: string; value: number; to: number }[]): NomadObject[] | null {
  return ports.length === 0 ? null : ports.map((p) => ({ Label: p.label, Value: p.value, To: p.to, HostNetwork: 'default' }));
}

function tokenMatches(req: IncomingMessage, token: string): boolean {
  const header = req.headers['x-nomad-token'] ?? req.headers.authorization?.replace(/^Bearer\s+/i, '');
  const given = Buffer.from(String(header ?? ''));
  const wanted = Buffer.from(token);
  return given.length === wanted.length && timingSafeEqual(given, wanted);
}

async function readJson(req: IncomingMessage): Promise<NomadObject> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8') || 'null');
  } catch (err) {
    throw new HttpError(400, `failed to decode request body: ${(err as Error).message}`);
  }
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'Content-Type': 'application/json' });
  res.end(JSON.stringify(body));
}

/** Nomad answers errors as plain text: the status code and the server's message. */
function sendError(res: ServerResponse, err: HttpError): void {
  res.writeHead(err.status, { 'Content-Type': 'text/plain; charset=utf-8' });
  res.end(err.message);
}

/** Go's duration syntax, as Nomad's `wait` parameter takes it: `5s`, `100ms`, `1m30s`. */
export function parseGoDuration(text: string): number {
  const units: Record<string, number> = { ns: 1e-6, us: 1e-3, µs: 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
  let total = 0;
  let rest = text.trim();
  if (/^\d+$/.test(rest)) return Number(rest) / 1e6; // a bare number is nanoseconds
  while (rest) {
    const match = /^(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/.exec(rest);
    if (!match) throw new HttpError(400, `Invalid wait time: time: invalid duration "${text}"`);
    total += Number(match[1]) * units[match[2]!]!;
    rest = rest.slice(match[0].length);
  }
  return total;
}

async function freePort(): Promise<number> {
  const server = createNetServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}
