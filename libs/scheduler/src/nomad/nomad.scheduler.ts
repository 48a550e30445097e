// Gofer's containers as Nomad jobs: one batch job per task attempt (and per notifier run), one service
// job per installed trigger, each with one task group holding one `docker` task. The job ID is the
// container name the caller chose, so it is deterministic per attempt; registering it create-only
// (`EnforceIndex` with `JobModifyIndex: 0`) is what makes a start idempotent across workers.
import { setTimeout as sleep } from 'node:timers/promises';
import {
  SchedulerError,
  type ContainerInfo,
  type ContainerRef,
  type ContainerSpec,
  type LogChunk,
  type Scheduler,
  type ServiceInfo,
  type ServiceRef,
  type ServiceSpec,
} from '../scheduler.js';
import { NOT_FOUND_REASONS, validateServiceSpec, validateSpec } from '../spec-validation.js';
import {
  JobExistsError,
  NomadClient,
  NomadError,
  NomadUnavailableError,
  type NomadLogType,
} from './nomad.client.js';
import type { NomadAllocation, NomadAllocationListStub, NomadJob, NomadTask, NomadTaskEvent, NomadTaskState } from './nomad.types.js';
import { placementFailureReason } from './placement-failure.js';

/** Where Nomad is and how Gofer's jobs are placed there (the `GOFER_NOMAD_*` settings). */
export interface NomadSchedulerOptions {
  /** Base URL of a Nomad agent's HTTP API (`GOFER_NOMAD_ADDR`), e.g. `http://127.0.0.1:4646`. */
  address: string;
  /** ACL token (`GOFER_NOMAD_TOKEN`), sent as `X-Nomad-Token`. */
  token?: string;
  /** Namespace of every job Gofer registers (`GOFER_NOMAD_NAMESPACE`). @default "default" */
  namespace?: string;
  /** Region (`GOFER_NOMAD_REGION`). @default the agent's region */
  region?: string;
  /** Datacenters jobs may be placed in (`GOFER_NOMAD_DATACENTERS`). @default ["*"] */
  datacenters?: string[];
  /** Node pool (`GOFER_NOMAD_NODE_POOL`, Nomad 1.6+). @default Nomad's "default" */
  nodePool?: string;
  /** The docker driver's `network_mode` for every container (`GOFER_NOMAD_NETWORK_MODE`), e.g. `host`. @default the driver's (bridge) */
  networkMode?: string;
  /** undici dispatcher carrying TLS settings (CA, client certificate); see NomadClientOptions.dispatcher. */
  dispatcher?: object;
  /**
   * The job's `kill_timeout`: how long Nomad waits between the kill signal and SIGKILL when a job is
   * stopped by anyone (Gofer's own stop SIGKILLs after the grace it is given). @default 10
   */
  killTimeoutSeconds?: number;
}

/** A job this caller registered: its evaluation, and the index Nomad registered it at. */
interface Registered {
  evalId: string;
  index: number;
}

/** The one task group and task of every job Gofer registers. */
const GROUP = 'gofer';
const TASK = 'task';
/** The network port label of a service job; the service reads its number from `ServiceSpec.portEnv`. */
const SERVICE_PORT = 'gofer';
const MHZ_PER_CPU = 1000;
const MIN_MEMORY_MB = 10;
const STOP_AFTER_CLIENT_DISCONNECT_NS = 30e9;
const MIB = 1024 * 1024;
/** A follow that loses Nomad keeps trying this long before it gives up with `unreachable`. */
const RECONNECT_BUDGET_MS = 60_000;
/** How long the last read of an ended allocation's logs keeps trying to reach its node. */
const FINAL_READ_BUDGET_MS = 5_000;
const LIST_CONCURRENCY = 8;
const SIGKILL_EXIT = 128 + 9;

export function createNomadScheduler(options: NomadSchedulerOptions): Scheduler {
  return new NomadScheduler(options);
}

class NomadScheduler implements Scheduler {
  readonly kind = 'nomad';
  private readonly client: NomadClient;
  private readonly address: string;

  constructor(private readonly options: NomadSchedulerOptions) {
    this.client = new NomadClient({
      address: options.address,
      token: options.token,
      namespace: options.namespace,
      region: options.region,
      dispatcher: options.dispatcher,
    });
    this.address = this.client.address;
  }

  async ping(): Promise<void> {
    const leader = await this.call('ask for its leader', () => this.client.leader());
    if (!leader) throw new SchedulerError('unreachable', `Nomad at ${this.address} has no leader (is the cluster formed?)`);
  }

  async start(spec: ContainerSpec, signal?: AbortSignal): Promise<ContainerRef & { adopted: boolean }> {
    validateSpec(spec);
    signal?.throwIfAborted();
    const created = await this.register(this.batchJob(spec), signal);
    if (created) await this.awaitStart(spec, created, signal);
    return { id: spec.name, name: spec.name, adopted: !created };
  }

  async startService(spec: ServiceSpec, signal?: AbortSignal): Promise<ServiceRef> {
    validateServiceSpec(spec);
    signal?.throwIfAborted();
    const job = this.serviceJob(spec);
    let registered = await this.register(job, signal);
    const adopted = !registered;
    // Allocations placed at or before this index are not the ones to report (an earlier run's).
    let after = 0;
    if (!registered) {
      // A stopped service is started again by registering it anew, fenced on the version read, so
      // two callers racing here start it once (the loser finds it running and adopts that).
      const existing = await this.call('read the job', () => this.client.job(spec.name, { signal }), signal);
      if (existing?.Stop) {
        after = existing.JobModifyIndex ?? 0;
        try {
          const answer = await this.call('register the job', () => this.client.registerJob(job, { enforceIndex: existing.JobModifyIndex }), signal);
          registered = { evalId: answer.EvalID, index: answer.JobModifyIndex };
        } catch (error) {
          if (!(error instanceof SchedulerError && error.cause instanceof JobExistsError)) throw error;
        }
      }
    }
    const alloc = registered ? await this.awaitStart(spec, registered, signal) : await this.awaitAllocation(spec, after, signal);
    const address = addressOf(alloc);
    if (!address) throw new SchedulerError('engine_error', `Nomad placed service "${spec.name}" without a "${SERVICE_PORT}" port`);
    return { id: spec.name, name: spec.name, address, adopted };
  }

  async wait(id: string, signal?: AbortSignal): Promise<{ exitCode: number }> {
    let alloc: NomadAllocation | undefined;
    try {
      alloc = await this.followUntil(id, isTerminal, signal, true);
    } catch (error) {
      // Nomad replaces a lost node's allocations whatever the reschedule policy says: stop the job so
      // the replacement does not run the attempt a second time (Gofer's retry policy decides).
      if (error instanceof SchedulerError && error.kind === 'lost') await this.client.deregisterJob(id).catch(() => undefined);
      throw error;
    }
    if (!alloc) throw new SchedulerError('engine_error', `Nomad has no job "${id}"`);
    return { exitCode: exitCodeOf(id, alloc) };
  }

  async *logs(id: string, signal?: AbortSignal): AsyncGenerator<LogChunk> {
    if (signal?.aborted) return;
    const alloc = await this.followUntil(id, (a) => isTerminal(a) || hasStarted(a), signal, false).catch((error: unknown) => {
      if (signal?.aborted) return undefined;
      throw error;
    });
    if (!alloc) {
      if (signal?.aborted) return;
      throw new SchedulerError('engine_error', `Nomad has no job "${id}"`);
    }
    if (!hasStarted(alloc)) return; // it never ran: there is no output
    // Both logs are followed until the allocation ends; then each is read to its end without follow.
    const gone = new AbortController(); // the consumer stopped (or `signal` fired)
    const stop = signal ? AbortSignal.any([signal, gone.signal]) : gone.signal;
    const ended = new AbortController();
    const watcher = isTerminal(alloc)
      ? (ended.abort(), Promise.resolve())
      : this.followAllocation(alloc.ID, AbortSignal.any([stop, ended.signal])).then(
          () => ended.abort(),
          () => ended.abort(), // the follows then read what there is and end
        );
    try {
      const sources = [this.taskLog(alloc.ID, 'stdout', ended.signal, stop), this.taskLog(alloc.ID, 'stderr', ended.signal, stop)];
      yield* merge(sources, () => gone.abort());
    } finally {
      gone.abort();
      ended.abort();
      await watcher;
    }
  }

  async stop(id: string, graceSeconds: number): Promise<void> {
    const job = await this.call('read the job', () => this.client.job(id));
    if (!job) return;
    if (!job.Stop) await this.call('stop the job', () => this.client.deregisterJob(id));
    const alloc = await this.currentAllocation(id);
    if (!alloc || isTerminal(alloc)) return;
    // Nomad sent the kill signal; after the grace the task is killed, whatever its kill_timeout says.
    const graceOver = AbortSignal.timeout(Math.max(0, graceSeconds) * 1000);
    const ended = await this.followUntil(id, isTerminal, graceOver, false).catch(() => undefined);
    if (ended && isTerminal(ended)) return;
    await this.client.signalAllocation(alloc.ID, 'SIGKILL', TASK).catch(() => {
      // not running any more, or its node is gone: the wait below sees which
    });
    await this.followUntil(id, isTerminal, AbortSignal.timeout(30_000 + this.killTimeoutMs()), false).catch(() => undefined);
  }

  async remove(id: string): Promise<void> {
    await this.call('remove the job', () => this.client.deregisterJob(id, { purge: true }));
  }

  async inspect(nameOrId: string): Promise<ContainerInfo | undefined> {
    const found = await this.read(nameOrId);
    return found && toContainerInfo(found.job, found.alloc);
  }

  async list(labels: Record<string, string>): Promise<ContainerInfo[]> {
    const stubs = await this.call('list jobs', () => this.client.listJobs({ filter: metaFilter(labels), meta: true }));
    const infos: ContainerInfo[] = [];
    for (let i = 0; i < stubs.length; i += LIST_CONCURRENCY) {
      const batch = await Promise.all(stubs.slice(i, i + LIST_CONCURRENCY).map((stub) => this.inspect(stub.ID)));
      // The filter may have left out labels it cannot quote: check them all here.
      for (const info of batch) if (info && Object.entries(labels).every(([k, v]) => info.labels[k] === v)) infos.push(info);
    }
    return infos;
  }

  async inspectService(nameOrId: string): Promise<ServiceInfo | undefined> {
    const found = await this.read(nameOrId);
    if (!found) return undefined;
    const { job, alloc } = found;
    const full = alloc && (await this.call('read the allocation', () => this.client.allocation(alloc.ID))).value;
    const state = taskState(alloc);
    const address = full && !isTerminal(full) ? addressOf(full) : undefined;
    const info = toContainerInfo(job, alloc);
    // The environment as the container has it: Nomad fills the port in when it starts the task.
    const port = full && portOf(full);
    if (port !== undefined) {
      for (const [key, value] of Object.entries(info.env)) info.env[key] = value.replaceAll(`\${NOMAD_PORT_${SERVICE_PORT}}`, String(port));
    }
    return {
      ...info,
      ...(address && { address }),
      restarts: state?.Restarts ?? 0,
      // Between a restart's events ("Restarting", then "Driver" while pulling, …) the task is pending.
      restarting: Boolean(alloc && !isTerminal(alloc) && alloc.DesiredStatus === 'run' && state?.State === 'pending' && (state.Restarts ?? 0) > 0),
    };
  }

  // ---- jobs -----------------------------------------------------------------------------------

  private batchJob(spec: ContainerSpec): NomadJob {
    return {
      ...this.jobBase(spec, 'batch'),
      TaskGroups: [{
        Name: GROUP,
        Count: 1,
        // Gofer owns retries: Nomad neither restarts the task nor reschedules the allocation.
        RestartPolicy: { Attempts: 0, Mode: 'fail', Interval: 24 * 3600e9, Delay: 0 },
        ReschedulePolicy: { Attempts: 0, Unlimited: false },
        // Nomad replaces a lost node's allocations whatever the reschedule policy says. This delays the
        // replacement (by this plus the kill timeout) long enough for Gofer, which fails the attempt as
        // soon as it sees `lost`, to stop the job first, and makes a cut-off client kill the task itself.
        // (Deprecated for `disconnect` in 1.8, still honoured; `disconnect` is not there in 1.6-1.7.)
        StopAfterClientDisconnect: STOP_AFTER_CLIENT_DISCONNECT_NS,
        Tasks: [this.task(spec, spec.env)],
      }],
    };
  }

  private serviceJob(spec: ServiceSpec): NomadJob {
    const task = this.task(spec, { ...spec.env, [spec.portEnv]: `\${NOMAD_PORT_${SERVICE_PORT}}` });
    // On the host's network the service binds the port itself; on a bridge the driver publishes it.
    if (this.options.networkMode !== 'host') task.Config.ports = [SERVICE_PORT];
    return {
      ...this.jobBase(spec, 'service'),
      TaskGroups: [{
        Name: GROUP,
        Count: 1,
        Networks: [{ Mode: 'host', DynamicPorts: [{ Label: SERVICE_PORT }] }],
        // A trigger is restarted whenever it exits, after a second, for as long as it is installed.
        RestartPolicy: { Attempts: 10, Mode: 'delay', Interval: 60e9, Delay: 1e9 },
        Tasks: [task],
      }],
    };
  }

  private jobBase(spec: ContainerSpec, type: 'batch' | 'service'): Omit<NomadJob, 'TaskGroups'> {
    return {
      ID: spec.name,
      Name: spec.name,
      Type: type,
      ...(this.options.namespace && { Namespace: this.options.namespace }),
      ...(this.options.region && { Region: this.options.region }),
      Datacenters: this.options.datacenters?.length ? this.options.datacenters : ['*'],
      ...(this.options.nodePool && { NodePool: this.options.nodePool }),
      Meta: { ...spec.labels },
    };
  }

  private task(spec: ContainerSpec, env: Record<string, string>): NomadTask {
    const [command, ...args] = spec.command ?? [];
    const resources: NomadTask['Resources'] = {};
    if (spec.resources?.cpu !== undefined) resources.CPU = Math.max(1, Math.round(spec.resources.cpu * MHZ_PER_CPU));
    // Nomad refuses less than 10 MB.
    if (spec.resources?.memoryBytes !== undefined) resources.MemoryMB = Math.max(MIN_MEMORY_MB, Math.ceil(spec.resources.memoryBytes / MIB));
    return {
      Name: TASK,
      Driver: 'docker',
      // The client decodes the driver config as HCL: every string is a template (escaped so it stays
      // what the spec says), and `labels` is a list of maps.
      Config: {
        image: literal(spec.image),
        ...(spec.entrypoint && { entrypoint: spec.entrypoint.map(literal) }),
        ...(command !== undefined && { command: literal(command), args: args.map(literal) }),
        ...(spec.registryAuth && { auth: { username: literal(spec.registryAuth.user), password: literal(spec.registryAuth.pass) } }),
        ...(this.options.networkMode && { network_mode: literal(this.options.networkMode) }),
        labels: [Object.fromEntries(Object.entries(spec.labels).map(([key, value]) => [key, literal(value)]))],
      },
      Env: { ...env },
      ...(Object.keys(resources).length > 0 && { Resources: resources }),
      KillTimeout: this.killTimeoutMs() * 1e6,
      Meta: { ...spec.labels },
    };
  }

  private killTimeoutMs(): number {
    return (this.options.killTimeoutSeconds ?? 10) * 1000;
  }

  /**
   * Registers the job create-only: its evaluation and the index it was registered at, or undefined when
   * the job already exists. Nomad before 1.10 checks `EnforceIndex` against a snapshot, not in the
   * write (fixed by hashicorp/nomad#27832), so two racing registers can both succeed, the second as an
   * update of the first: the job's `CreateIndex` says which one created it.
   */
  private async register(job: NomadJob, signal: AbortSignal | undefined): Promise<Registered | undefined> {
    let answer;
    try {
      answer = await this.call('register the job', () => this.client.registerJob(job, { enforceIndex: 0 }), signal);
    } catch (error) {
      if (error instanceof SchedulerError && error.cause instanceof JobExistsError) return undefined;
      throw error;
    }
    const stored = await this.call('read the job', () => this.client.job(job.ID, { signal }), signal);
    if (stored && stored.CreateIndex !== undefined && stored.CreateIndex !== answer.JobModifyIndex) return undefined;
    return { evalId: answer.EvalID, index: answer.JobModifyIndex };
  }

  /**
   * Waits until the job just registered has its task running (or already finished). A placement
   * failure or a task that could not start (an unpullable image) removes the job and throws.
   */
  private async awaitStart(spec: ContainerSpec, registered: Registered, signal: AbortSignal | undefined): Promise<NomadAllocation> {
    const { evalId } = registered;
    // A placement failure shows in the evaluation, not in the allocations: wait for it to be processed.
    let index = 0;
    for (;;) {
      const answer = await this.call('read the evaluation', () => this.client.evaluationQuery(evalId, { index, waitMs: 30_000, signal }), signal);
      const evaluation = answer.value;
      if (!evaluation || evaluation.Status !== 'pending') {
        const reason = evaluation && placementFailureReason(evaluation);
        if (reason) {
          await this.remove(spec.name).catch(() => {});
          throw new SchedulerError('unschedulable', `Nomad could not place job "${spec.name}": ${reason}`);
        }
        break;
      }
      index = Math.max(answer.index, 1);
    }
    const alloc = await this.followUntil(spec.name, startedOrFailed, signal, true, registered.index);
    if (!alloc) throw new SchedulerError('engine_error', `Nomad lost job "${spec.name}" while it was being started`);
    if (hasStarted(alloc)) return alloc;
    const failure = startFailure(spec.image, alloc);
    await this.remove(spec.name).catch(() => {});
    throw failure;
  }

  /**
   * Waits until an adopted service's allocation (placed after index `after`) runs. One that could not
   * start throws as a start would, leaving the job for its owner to remove.
   */
  private async awaitAllocation(spec: ContainerSpec, after: number, signal: AbortSignal | undefined): Promise<NomadAllocation> {
    const alloc = await this.followUntil(spec.name, startedOrFailed, signal, true, after);
    if (!alloc) throw new SchedulerError('engine_error', `Nomad has no job "${spec.name}"`);
    if (!hasStarted(alloc)) throw startFailure(spec.image, alloc);
    return alloc;
  }

  // ---- following --------------------------------------------------------------------------------

  /**
   * Follows the job's current allocation with blocking queries until `done` holds for it, and answers
   * it as `GET /v1/allocation/:id` does. Undefined when the job does not exist (or was purged). While
   * no allocation exists, the job's evaluations are read for a placement failure (`unschedulable`):
   * an adopted job may have failed to place while no one watched.
   * A lost allocation throws `lost` when `failOnLost`. Nomad out of reach is retried for
   * {@link RECONNECT_BUDGET_MS} once the job was seen; before that it throws `unreachable` at once.
   */
  private async followUntil(
    id: string,
    done: (alloc: NomadAllocation) => boolean,
    signal: AbortSignal | undefined,
    failOnLost: boolean,
    after = 0,
  ): Promise<NomadAllocation | undefined> {
    let seen = false;
    let batch = false;
    let outageSince: number | undefined;
    let index = 0;
    for (;;) {
      signal?.throwIfAborted();
      try {
        if (!seen) {
          const job = await this.client.job(id, { signal });
          if (!job) return undefined;
          seen = true;
          batch = job.Type === 'batch';
        }
        const answer = await this.client.jobAllocations(id, { index, waitMs: 30_000, signal });
        outageSince = undefined;
        // A batch job's attempt ran in its first allocation: a replacement of a lost one is not it.
        const lost = batch && failOnLost ? answer.value.find((a) => a.ClientStatus === 'lost') : undefined;
        if (lost) throw lostError(id, lost);
        const stub = current(answer.value.filter((a) => a.CreateIndex > after));
        if (!stub) {
          const reason = await this.placementFailure(id, signal);
          if (reason) throw new SchedulerError('unschedulable', `Nomad could not place job "${id}": ${reason}`);
          // A purged job's allocations are gone too: check the job still exists before blocking on.
          if (index > 0 && !(await this.client.job(id, { signal }))) return undefined;
        } else {
          if (stub.ClientStatus === 'lost' && failOnLost) throw lostError(id, stub);
          if (done(stub as NomadAllocation) || stub.ClientStatus === 'lost') {
            const full = (await this.client.allocation(stub.ID, { signal })).value;
            return full ?? (stub as NomadAllocation);
          }
        }
        index = answer.index < index ? 0 : Math.max(answer.index, 1);
      } catch (error) {
        if (signal?.aborted) throw signal.reason;
        if (error instanceof SchedulerError) throw error;
        if (!(error instanceof NomadUnavailableError) || !seen) throw this.schedulerError('follow the job', error);
        outageSince ??= Date.now();
        if (Date.now() - outageSince > RECONNECT_BUDGET_MS) throw this.schedulerError('follow the job', error);
        await sleep(1000, undefined, { signal }).catch(() => undefined);
      }
    }
  }

  /** Follows one allocation with blocking queries until it is terminal (or gone). */
  private async followAllocation(allocId: string, signal: AbortSignal): Promise<void> {
    let index = 0;
    let outageSince: number | undefined;
    for (;;) {
      signal.throwIfAborted();
      try {
        const answer = await this.client.allocation(allocId, { index, waitMs: 30_000, signal });
        outageSince = undefined;
        if (!answer.value || isTerminal(answer.value)) return;
        index = answer.index < index ? 0 : Math.max(answer.index, 1);
      } catch (error) {
        if (signal.aborted) throw signal.reason;
        if (!(error instanceof NomadUnavailableError)) throw error;
        outageSince ??= Date.now();
        if (Date.now() - outageSince > RECONNECT_BUDGET_MS) throw error;
        await sleep(1000, undefined, { signal }).catch(() => undefined);
      }
    }
  }

  /** Nomad's explanation when the job's evaluation could not place its allocation, else undefined. */
  private async placementFailure(id: string, signal: AbortSignal | undefined): Promise<string | undefined> {
    const evaluations = await this.client.jobEvaluations(id, { signal });
    const latest = evaluations.filter((e) => e.FailedTGAllocs || e.Status === 'blocked').sort((a, b) => b.CreateIndex - a.CreateIndex)[0];
    return latest && placementFailureReason(latest);
  }

  /** One log of one task, followed until `ended`, then read to its end; reconnects from the last offset. */
  private async *taskLog(allocId: string, type: NomadLogType, ended: AbortSignal, signal: AbortSignal | undefined): AsyncGenerator<LogChunk> {
    // Where to resume: the bytes yielded so far. With `origin=start`, Nomad counts `offset` across all
    // of the task's log files (from the oldest still kept), and a frame's own `Offset` can lag its data
    // (the framer sets it when a frame starts), so it is not used.
    let total = 0;
    let outageSince: number | undefined;
    for (;;) {
      if (signal?.aborted) return;
      const follow = !ended.aborted;
      const streamSignal = follow ? (signal ? AbortSignal.any([signal, ended]) : ended) : signal;
      try {
        for await (const frame of this.client.streamLogs(allocId, TASK, type, { follow, offset: total, origin: 'start', signal: streamSignal })) {
          outageSince = undefined;
          if (frame.kind === 'file-event') {
            // Truncated: Nomad streams the file again from its start, as new output. Deleted (an old
            // rotated file under a reader): open the stream again from where it was.
            if (frame.event === 'file truncated') total = 0;
            if (frame.event === 'file deleted') break;
            continue;
          }
          if (frame.data.length === 0) continue;
          total += frame.data.length;
          yield { stream: type, data: frame.data };
        }
        if (!follow) return; // read to the end after the allocation ended
        if (!ended.aborted && !signal?.aborted) await sleep(200); // Nomad closed a follow early: open it again
      } catch (error) {
        if (signal?.aborted) return;
        if (!(error instanceof NomadUnavailableError)) {
          // e.g. the allocation was garbage-collected: what was archived so far is what there is
          if (error instanceof NomadError && error.status === 404) return;
          throw this.schedulerError('read the logs', error);
        }
        outageSince ??= Date.now();
        // Once the allocation ended, its node may be gone with it (lost): try the last read only briefly.
        if (Date.now() - outageSince > (follow ? RECONNECT_BUDGET_MS : FINAL_READ_BUDGET_MS)) throw this.schedulerError('read the logs', error);
        await sleep(500, undefined, { signal }).catch(() => undefined);
      }
    }
  }

  // ---- reading ----------------------------------------------------------------------------------

  private async read(id: string): Promise<{ job: NomadJob; alloc: NomadAllocationListStub | undefined } | undefined> {
    const job = await this.call('read the job', () => this.client.job(id));
    if (!job) return undefined;
    return { job, alloc: await this.currentAllocation(id) };
  }

  private async currentAllocation(id: string): Promise<NomadAllocationListStub | undefined> {
    const { value } = await this.call('list allocations', () => this.client.jobAllocations(id));
    return current(value);
  }

  /** Runs a Nomad call, turning its failure into a {@link SchedulerError} (an abort into the signal's reason). */
  private async call<T>(action: string, run: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    signal?.throwIfAborted();
    try {
      return await run();
    } catch (error) {
      if (signal?.aborted) throw signal.reason;
      throw this.schedulerError(action, error);
    }
  }

  private schedulerError(action: string, error: unknown): SchedulerError {
    if (error instanceof SchedulerError) return error;
    if (error instanceof NomadError && error.status === 0) {
      return new SchedulerError(
        'unreachable',
        `cannot reach Nomad at ${this.address} to ${action}: ${error.detail} (is Nomad running, and does GOFER_NOMAD_ADDR point at it?)`,
        { cause: error },
      );
    }
    if (error instanceof NomadError && error.status === 403) {
      return new SchedulerError('engine_error', `Nomad refused to ${action}: ${error.detail} (check GOFER_NOMAD_TOKEN and its policy)`, { cause: error });
    }
    // Nomad answers a job that fails validation with 500 and its multierror text ("1 error occurred: …").
    if (error instanceof NomadError && (error.status === 400 || (error.status === 500 && /error(s)? occurred|validation failed/i.test(error.detail)))) {
      return new SchedulerError('invalid_spec', `Nomad refused to ${action}: ${error.detail}`, { cause: error });
    }
    const detail = error instanceof NomadError ? `${error.status ? `HTTP ${error.status}: ` : ''}${error.detail}` : error instanceof Error ? error.message : String(error);
    return new SchedulerError('engine_error', `Nomad could not ${action}: ${detail}`, { cause: error });
  }
}

// ---- allocation state -----------------------------------------------------------------------------

/**
 * `text` as an HCL template that evaluates to itself: Nomad's client evaluates every string of a
 * driver config as a template over the task's environment, where `${…}` and `%{…}` would be
 * interpolated (or fail as an unknown variable). `$${` and `%%{` are HCL's escapes for them.
 */
export function literal(text: string): string {
  // Function replacers: in a replacement string `$$` would mean one `$`.
  return text.replaceAll('${', () => '$${').replaceAll('%{', () => '%%{');
}

/**
 * A job-list filter on `Meta` for `labels`. Every comparison is guarded with `in`: go-bexpr fails the
 * whole list (Nomad answers 400) on a job that lacks a compared key (nomad#16758). Strings have no
 * escapes in go-bexpr, so a value is quoted "like this" or `like this`; one holding both quotes is
 * left to the caller's own check. Undefined when nothing can be filtered on.
 */
export function metaFilter(labels: Record<string, string>): string | undefined {
  const quote = (text: string) => (!text.includes('"') ? `"${text}"` : !text.includes('`') ? `\`${text}\`` : undefined);
  const clauses: string[] = [];
  for (const [key, value] of Object.entries(labels)) {
    const [k, v] = [quote(key), quote(value)];
    if (k && v) clauses.push(`${k} in Meta and Meta[${k}] == ${v}`);
  }
  return clauses.length > 0 ? clauses.join(' and ') : undefined;
}

/** The job's newest allocation: the one placed for its current version. */
function current(allocs: NomadAllocationListStub[]): NomadAllocationListStub | undefined {
  let newest: NomadAllocationListStub | undefined;
  for (const alloc of allocs) if (alloc.TaskGroup === GROUP && (!newest || alloc.CreateIndex > newest.CreateIndex)) newest = alloc;
  return newest;
}

function isTerminal(alloc: NomadAllocationListStub): boolean {
  return alloc.ClientStatus === 'complete' || alloc.ClientStatus === 'failed' || alloc.ClientStatus === 'lost';
}

function taskState(alloc: NomadAllocationListStub | undefined): NomadTaskState | undefined {
  return alloc?.TaskStates?.[TASK] ?? undefined;
}

/**
 * The task ran, the allocation ended, or the task failed before it ran. Nomad retries a failed pull
 * within a service's restart policy (a missing image is "recoverable" to its docker driver unless the
 * registry says exactly "image … not found"), so a start that waited for the allocation to end would
 * wait for ever: the first failure is the answer.
 */
function startedOrFailed(alloc: NomadAllocationListStub): boolean {
  return hasStarted(alloc) || isTerminal(alloc) || failureBeforeStart(alloc) !== undefined;
}

const START_FAILURES = new Set(['Driver Failure', 'Failed Validation', 'Setup Failure']);

/** The event that says why the task could not start, if it never started and one says so. */
function failureBeforeStart(alloc: NomadAllocationListStub): NomadTaskEvent | undefined {
  if (hasStarted(alloc)) return undefined;
  return taskState(alloc)?.Events?.findLast((e) => START_FAILURES.has(e.Type) || Boolean(e.DriverError) || Boolean(e.ValidationError));
}

/** The task's process ran (it may have exited since). */
function hasStarted(alloc: NomadAllocationListStub): boolean {
  const state = taskState(alloc);
  return Boolean(state?.StartedAt) || state?.State === 'running' || Boolean(state?.Events?.some((e) => e.Type === 'Started'));
}

function lastEvent(alloc: NomadAllocationListStub, type: string) {
  return taskState(alloc)?.Events?.findLast((e) => e.Type === type);
}

function lostError(id: string, alloc: NomadAllocationListStub): SchedulerError {
  const why = alloc.ClientDescription || alloc.DesiredDescription || 'its node stopped answering';
  return new SchedulerError('lost', `Nomad lost allocation ${alloc.ID.slice(0, 8)} of job "${id}": ${why}`);
}

/** The exit code of an ended allocation's task, from its last `Terminated` event. */
function exitCodeOf(id: string, alloc: NomadAllocation): number {
  if (alloc.ClientStatus === 'lost') throw lostError(id, alloc);
  const terminated = lastEvent(alloc, 'Terminated');
  if (terminated) {
    const code = terminated.ExitCode ?? Number(terminated.Details?.exit_code);
    if (Number.isInteger(code)) return code;
    if (terminated.Signal) return 128 + terminated.Signal;
  }
  if (!hasStarted(alloc)) throw startFailure(alloc.Job?.TaskGroups?.[0]?.Tasks?.[0]?.Config.image ?? id, alloc);
  // Killed without a Terminated event: the way Docker reports a SIGKILL.
  if (lastEvent(alloc, 'Killed')) return SIGKILL_EXIT;
  throw new SchedulerError('engine_error', `Nomad reports no exit code for job "${id}" (allocation ${alloc.ClientStatus})`);
}

/** Why a task that never ran did not start, from its task events (a driver failure names the cause). */
function startFailure(image: string, alloc: NomadAllocationListStub): SchedulerError {
  const failure = failureBeforeStart(alloc);
  const reason = (failure?.DriverError || failure?.ValidationError || failure?.DisplayMessage || failure?.Message || alloc.ClientDescription || 'the task never started').trim();
  if (/^Failed to pull `/i.test(reason)) {
    const detail = reason.replace(/^Failed to pull `[^`]*`:\s*/i, '');
    if (NOT_FOUND_REASONS.test(detail)) return new SchedulerError('image_not_found', `image "${image}" not found: ${detail}`);
    return new SchedulerError('pull_failed', `image "${image}" could not be pulled: ${detail} (check the registry address and credentials)`);
  }
  if (alloc.ClientStatus === 'complete' || alloc.DesiredStatus !== 'run') {
    return new SchedulerError('engine_error', `Nomad stopped job "${alloc.JobID}" before its task ran: ${alloc.DesiredDescription || reason}`);
  }
  return new SchedulerError('invalid_spec', `Nomad could not start the task: ${reason}`);
}

/** The port a service listens on inside its container (`NOMAD_PORT_<label>`). */
function portOf(alloc: NomadAllocation): number | undefined {
  const port = alloc.AllocatedResources?.Shared?.Ports?.find((p) => p.Label === SERVICE_PORT);
  return port ? port.To || port.Value : undefined;
}

/** `host:port` of a service allocation's port, as Nomad allocated it. */
function addressOf(alloc: NomadAllocation): string | undefined {
  const port = alloc.AllocatedResources?.Shared?.Ports?.find((p) => p.Label === SERVICE_PORT);
  if (port) return `${port.HostIP.includes(':') ? `[${port.HostIP}]` : port.HostIP}:${port.Value}`;
  for (const network of alloc.AllocatedResources?.Shared?.Networks ?? []) {
    const dynamic = [...(network.DynamicPorts ?? []), ...(network.ReservedPorts ?? [])].find((p) => p.Label === SERVICE_PORT);
    if (dynamic?.Value) return `${network.IP}:${dynamic.Value}`;
  }
  return undefined;
}

function toContainerInfo(job: NomadJob, alloc: NomadAllocationListStub | undefined): ContainerInfo {
  const state = taskState(alloc);
  const task = job.TaskGroups?.[0]?.Tasks?.[0];
  const dead = state?.State === 'dead' || (alloc !== undefined && isTerminal(alloc));
  let exitCode: number | undefined;
  if (dead && alloc) {
    const terminated = lastEvent(alloc, 'Terminated');
    exitCode = terminated?.ExitCode ?? (lastEvent(alloc, 'Killed') && hasStarted(alloc) ? SIGKILL_EXIT : undefined);
  }
  return {
    id: job.ID,
    name: job.ID,
    labels: { ...(job.Meta ?? {}) },
    running: !dead && state?.State === 'running',
    ...(exitCode !== undefined && { exitCode }),
    ...(state?.StartedAt && { startedAt: new Date(state.StartedAt) }),
    ...(dead && state?.FinishedAt && { finishedAt: new Date(state.FinishedAt) }),
    env: { ...(task?.Env ?? {}) },
  };
}

/**
 * Interleaves async generators as their items arrive, pulling from each only when the previous item
 * it gave was consumed: nothing is buffered beyond one pending item per source. `stop` is called when
 * the consumer leaves early, and must make every source's pending pull settle.
 */
async function* merge<T>(sources: AsyncGenerator<T>[], stop: () => void): AsyncGenerator<T> {
  const pending = new Map<number, Promise<{ index: number; result: IteratorResult<T> }>>();
  const pull = (index: number) => pending.set(index, sources[index]!.next().then((result) => ({ index, result })));
  sources.forEach((_, index) => pull(index));
  try {
    while (pending.size > 0) {
      const { index, result } = await Promise.race(pending.values());
      if (result.done) {
        pending.delete(index);
        continue;
      }
      yield result.value;
      pull(index);
    }
  } finally {
    // A source's return waits for its pending pull: `stop` makes those end first.
    stop();
    await Promise.all(sources.map((source) => source.return(undefined).catch(() => undefined)));
  }
}
