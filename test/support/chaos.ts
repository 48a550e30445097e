// The chaos suite's harness (issue 10, "The chaos suite"): a cluster of two API and two worker processes
// on a Postgres and a Redis of its own, behind a TCP round-robin balancer; a steady stream of runs; the
// real CLI following events and logs through the balancer; and, after each fault, the checks every
// scenario shares. The spec files under test/chaos/ only say which fault to inject.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createGoferClient, type GoferClient } from '@gofer/proto';
import { ContainerCreations } from './docker-events.js';
import { DedicatedPostgres, DedicatedRedis } from './dedicated-services.js';
import { FaultProxy } from './fault-proxy.js';
import { freePort, GOFER_BIN, ROOT, TestCluster, waitFor, type GoferProcess } from './gofer-process.js';
import { apply, readLogs, readLogStreams } from './runs.js';
import { TcpBalancer } from './tcp-balancer.js';

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The per-task log cap and object size limit of chaos clusters: small, so one scenario can fill both. */
export const LOG_CAP_BYTES = 32 * 1024;
export const OBJECT_MAX_BYTES = 64 * 1024;
const SECRET = `chaos-${randomBytes(8).toString('hex')}`;

/**
 * The pipelines the load runs. Each run's outcome is fixed by its DAG, whatever fault hits it:
 * - `dag`: fan-out and join; `flaky` fails its first attempt; `write`/`read` pass a run object through the
 *   API with the CLI inside their containers (retried, since the API may be down when they call it);
 *   `secret` echoes a secret (masked); `chatty` writes a few seconds of output that the CLI follows.
 * - `timeouts`: `slow` outlives its timeout; `cleanup` runs on its failure, `never` is skipped.
 * - `cancels`: `hold` runs long enough for the load to cancel the run while it runs.
 * - `hogs`: `noisy` writes past the log cap, `big` stores an object over the size limit (and fails).
 */
export const PIPELINES = {
  dag: `
id: dag
tasks:
  - { id: root, image: "busybox:latest", script: "echo root" }
  - { id: left, image: "busybox:latest", script: "sleep 1; echo left", depends_on: { root: success } }
  - { id: right, image: "busybox:latest", script: "sleep 1; echo right", depends_on: { root: success } }
  - id: flaky
    image: busybox:latest
    script: 'if [ "$GOFER_TASK_ATTEMPT" = 1 ]; then echo failing; exit 7; fi; echo flaky'
    retries: { attempts: 3, backoff: 200ms }
    depends_on: { root: success }
  - id: chatty
    image: busybox:latest
    script: 'i=1; while [ $i -le 15 ]; do echo "run $GOFER_RUN_ID line $i"; echo "note $i" >&2; i=$((i+1)); sleep 0.2; done'
    depends_on: { root: success }
  - id: secret
    image: busybox:latest
    variables: { TOKEN: "pipeline_secret{{TOKEN}}" }
    script: 'echo "token=$TOKEN"'
  - id: write
    image: gofer-test/cli:latest
    inject_api_token: true
    retries: { attempts: 5, backoff: 2s }
    script: 'echo "run $GOFER_RUN_ID" > /tmp/a && gofer run object put dag $GOFER_RUN_ID artifact /tmp/a'
  - id: read
    image: gofer-test/cli:latest
    inject_api_token: true
    retries: { attempts: 5, backoff: 2s }
    depends_on: { write: success }
    script: 'test "$(gofer run object get dag $GOFER_RUN_ID artifact)" = "run $GOFER_RUN_ID"'
  - id: join
    image: busybox:latest
    script: echo joined
    depends_on: { left: success, right: success, flaky: success, chatty: success, secret: success, read: success }
`,
  timeouts: `
id: timeouts
tasks:
  - { id: slow, image: "busybox:latest", script: "echo start; sleep 30", timeout: 1s }
  - { id: cleanup, image: "busybox:latest", script: "echo cleanup", depends_on: { slow: failure } }
  - { id: never, image: "busybox:latest", script: "echo never", depends_on: { slow: success } }
`,
  cancels: `
id: cancels
tasks:
  - { id: hold, image: "busybox:latest", script: "echo holding; sleep 6" }
  - { id: after, image: "busybox:latest", script: "echo after", depends_on: { hold: success } }
`,
  hogs: `
id: hogs
tasks:
  - id: noisy
    image: busybox:latest
    script: 'i=0; while [ $i -lt 1500 ]; do echo "noisy line $i of run $GOFER_RUN_ID, padded to fill the log cap quickly"; i=$((i+1)); done'
  - id: big
    image: gofer-test/cli:latest
    inject_api_token: true
    script: 'head -c ${OBJECT_MAX_BYTES * 3} /dev/urandom > /tmp/big && gofer run object put hogs $GOFER_RUN_ID big /tmp/big'
  - id: small
    image: gofer-test/cli:latest
    inject_api_token: true
    retries: { attempts: 5, backoff: 2s }
    script: 'head -c 1000 /dev/urandom > /tmp/small && gofer run object put hogs $GOFER_RUN_ID small /tmp/small'
`,
} as const;
export type PipelineId = keyof typeof PIPELINES;

/** The load's default mix: one pipeline after another, round and round. */
const DEFAULT_MIX: PipelineId[] = ['dag', 'timeouts', 'dag', 'cancels'];
/** Pause between run starts. */
const START_INTERVAL_MS = 1_000;
/** Load kept up after a fault ends, so runs start on the recovered cluster too. */
const TAIL_MS = 4_000;
/** Bounds (not thresholds): how long a scenario may take to settle before the checks call it a failure. */
const SETTLE_MS = 150_000;
const FOLLOWER_END_MS = 30_000;
const LEAK_SETTLE_MS = 40_000;
/** Generous leak bounds: a leak grows without bound, the noise of pools and heaps does not. */
const PG_CONNECTION_SLACK = 10;
const REDIS_CLIENT_SLACK = 8;
const RSS_FACTOR = 2;
const RSS_SLACK_KB = 128 * 1024;

/** Something a scenario breaks, how long it stays broken, and how it is put right. */
export interface Fault {
  inject(chaos: Chaos): Promise<void>;
  /** How long the fault lasts before `restore` (0 or absent: instant, like a SIGKILL). */
  holdMs?: number;
  restore?(chaos: Chaos): Promise<void>;
}

/** What went wrong in a scenario, by kind; a clean scenario has none. */
export interface Problem {
  kind: 'loss' | 'duplicate' | 'status' | 'after-cancel' | 'follow' | 'leak';
  detail: string;
}

export interface ScenarioOutcome {
  name: string;
  runs: number;
  byPipeline: Record<string, number>;
  faultMs: number;
  /** Fault end → every run created before the fault complete (0 if they all completed before it ended). */
  allEarlierCompleteMs: number | null;
  /** Fault end → the first task attempt completing. */
  firstCompletionMs: number | null;
  containers: number;
  duplicates: number;
  losses: number;
  eventsFollowed: number;
  logsFollowed: number;
  followerExits: number;
  leaks: { pg: [number, number]; redis: [number, number]; rss: string };
  /** What the fault and the cluster did, for the report (e.g. connections a kill cut, process start times). */
  notes: string[];
  problems: Problem[];
  durationMs: number;
}

interface TaskRow {
  run_id: number;
  pipeline_id: string;
  task_id: string;
  state: string;
  status: string | null;
  reason: string | null;
  description: string | null;
  worker_id: string | null;
  attempt: number;
  exit_code: number | null;
  scheduler_id: string | null;
  logs_truncated: boolean;
  started: Date | null;
  past_attempts: Array<{ attempt: number; schedulerId: string | null; started: string | null }>;
}

/** Every CLI process started, so that clean-up can end the ones still running. */
const clis = new Set<Cli>();

/** A `gofer` CLI child process through the balancer, its output collected. */
class Cli {
  private readonly out: Buffer[] = [];
  private readonly err: Buffer[] = [];
  readonly child: ChildProcess;
  readonly exited: Promise<number | null>;

  constructor(address: string, token: string, args: string[], onStdout?: (chunk: Buffer) => void) {
    this.child = spawn(process.execPath, [GOFER_BIN, '--host', address, '--token', token, ...args], {
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/root' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child.stdout!.on('data', (chunk: Buffer) => {
      this.out.push(chunk);
      onStdout?.(chunk);
    });
    this.child.stderr!.on('data', (chunk: Buffer) => this.err.push(chunk));
    this.exited = new Promise((resolve) => this.child.once('exit', (code) => resolve(code)));
    clis.add(this);
    void this.exited.then(() => clis.delete(this));
  }

  get stdout(): string {
    return Buffer.concat(this.out).toString('utf8');
  }

  get stderr(): string {
    return Buffer.concat(this.err).toString('utf8');
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** The exit code, or undefined if it is still running after `ms`. */
  async exit(ms: number): Promise<number | null | undefined> {
    return Promise.race([this.exited, sleep(ms).then(() => undefined)]);
  }

  kill(): void {
    if (this.running) this.child.kill('SIGKILL');
  }
}

/**
 * `gofer event list --follow -o json` for the whole file. If the CLI exits (it should not: it is meant
 * to reconnect through the balancer by itself), the exit is recorded against the scenario and a new
 * one resumes with `--after` the last id seen, as a user would, so later scenarios are still checked.
 */
class EventFollower {
  /** How many times each event id was printed. */
  readonly seen = new Map<number, number>();
  readonly exits: Array<{ at: number; code: number | null; stderr: string }> = [];
  private cli: Cli | undefined;
  private stopping = false;
  private maxSeen = 0;

  constructor(private readonly chaos: Chaos) {}

  start(): void {
    let buffer = '';
    const cli = new Cli(this.chaos.balancer.address, this.chaos.cluster.token, [
      'event', 'list', '--follow', '-o', 'json', ...(this.maxSeen ? ['--after', String(this.maxSeen)] : []),
    ], (chunk) => {
      buffer += chunk.toString('utf8');
      let newline: number;
      while ((newline = buffer.indexOf('\n')) >= 0) {
        const line = buffer.slice(0, newline);
        buffer = buffer.slice(newline + 1);
        if (!line.trim()) continue;
        const id = Number((JSON.parse(line) as { id: number | string }).id);
        this.seen.set(id, (this.seen.get(id) ?? 0) + 1);
        this.maxSeen = Math.max(this.maxSeen, id);
      }
    });
    this.cli = cli;
    void cli.exited.then(async (code) => {
      if (this.stopping) return;
      this.exits.push({ at: Date.now(), code, stderr: cli.stderr.slice(-500) });
      await sleep(500);
      if (!this.stopping) this.start();
    });
  }

  get highest(): number {
    return this.maxSeen;
  }

  stop(): void {
    this.stopping = true;
    this.cli?.kill();
  }
}

interface LogFollower {
  pipelineId: string;
  runId: number;
  taskId: string;
  cli: Cli;
}

interface StartedRun {
  pipelineId: PipelineId;
  id: number;
}

/**
 * The steady stream of runs: one start a second through the balancer (retried under the same
 * idempotency key while the cluster is down, so a retry never makes a second run); the CLI follows
 * some tasks' logs; `cancels` runs are cancelled once their long task runs.
 */
class Load {
  readonly runs: StartedRun[] = [];
  readonly followers: LogFollower[] = [];
  readonly unstarted: string[] = [];
  private readonly pending: Promise<void>[] = [];
  private stopped = false;
  private loop: Promise<void> | undefined;
  private count = 0;

  constructor(
    private readonly chaos: Chaos,
    private readonly scenario: string,
    private readonly mix: readonly PipelineId[],
  ) {}

  start(): void {
    this.loop = (async () => {
      while (!this.stopped) {
        const pipelineId = this.mix[this.count % this.mix.length];
        const key = `${this.chaos.label}-${this.scenario.replace(/[^A-Za-z0-9]/g, '')}-${this.count}`;
        this.count += 1;
        const run = await this.startRun(pipelineId, key);
        if (run) this.afterStart(run);
        else this.unstarted.push(key);
        await sleep(START_INTERVAL_MS);
      }
    })();
  }

  private async startRun(pipelineId: PipelineId, idempotencyKey: string): Promise<StartedRun | undefined> {
    const deadline = Date.now() + 60_000;
    while (Date.now() < deadline) {
      try {
        const { run } = await this.chaos.client.startRun({ namespaceId: 'default', pipelineId, variables: {}, idempotencyKey });
        const started = { pipelineId, id: run!.id };
        this.runs.push(started);
        return started;
      } catch {
        await sleep(500); // the cluster is down or a replica just died: the same key again
      }
    }
    return undefined;
  }

  private afterStart(run: StartedRun): void {
    const { address } = this.chaos.balancer;
    const token = this.chaos.cluster.token;
    const follow = (taskId: string) => this.followers.push({
      pipelineId: run.pipelineId, runId: run.id, taskId,
      cli: new Cli(address, token, ['taskrun', 'logs', run.pipelineId, String(run.id), taskId, '--follow']),
    });
    if (run.pipelineId === 'dag' && run.id % 2 === 0) follow('chatty');
    if (run.pipelineId === 'hogs') follow('noisy');
    if (run.pipelineId === 'cancels') this.pending.push(this.cancelWhileHolding(run));
  }

  /** Cancels a run once `hold` runs; gives up quietly when the cluster stays unreachable (the run then ends successful). */
  private async cancelWhileHolding(run: StartedRun): Promise<void> {
    const ref = { namespaceId: 'default', pipelineId: run.pipelineId, runId: run.id };
    const deadline = Date.now() + 30_000;
    while (Date.now() < deadline) {
      try {
        const { taskRun } = await this.chaos.client.getTaskRun({ ...ref, taskId: 'hold', attempt: 0 });
        if (taskRun?.state === 'TASK_RUN_STATE_RUNNING') {
          await this.chaos.client.cancelRun(ref);
          return;
        }
        if (taskRun?.state === 'TASK_RUN_STATE_COMPLETE') return;
      } catch (error) {
        if ((error as { details?: string }).details?.includes('already complete')) return;
      }
      await sleep(300);
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.loop;
    await Promise.all(this.pending);
  }
}

interface RunRow {
  pipeline_id: string;
  id: number;
  state: string;
  status: string | null;
  created: Date;
  ended: Date | null;
}

/** What one scenario's checks share: which runs are its own, their rows, and the problems found so far. */
class ScenarioWindow {
  runs: RunRow[] = [];
  tasks: TaskRow[] = [];
  /** When each cancelled run's cancel committed (its run_cancel_requested event), by `pipeline/run`. */
  readonly cancelledAt = new Map<string, number>();
  readonly problems: Problem[] = [];
  readonly steps: string[] = [];
  private readonly counts = new Map<Problem['kind'], number>();
  private stepFrom = Date.now();

  constructor(
    /** Whether a run belongs to the scenario (its id is past the pipeline's last run before it began). */
    readonly inScenario: (pipelineId: string, runId: number) => boolean,
  ) {}

  /** Records a problem; `weight` is how many duplicates or losses it stands for. */
  problem(kind: Problem['kind'], detail: string, weight = 1): void {
    this.problems.push({ kind, detail });
    this.counts.set(kind, (this.counts.get(kind) ?? 0) + weight);
  }

  count(kind: Problem['kind']): number {
    return this.counts.get(kind) ?? 0;
  }

  /** Notes how long the checks since the previous step took, for the report. */
  step(what: string): void {
    this.steps.push(`${what} ${seconds(Date.now() - this.stepFrom)}`);
    this.stepFrom = Date.now();
  }
}

const seconds = (ms: number | null) => (ms === null ? 'n/a' : `${(ms / 1000).toFixed(1)} s`);

/** A chaos cluster for one spec file. */
export class Chaos {
  readonly apis: GoferProcess[] = [];
  readonly workers: GoferProcess[] = [];
  readonly outcomes: ScenarioOutcome[] = [];
  readonly fileStarted = Date.now();
  postgres!: DedicatedPostgres;
  redis!: DedicatedRedis;
  cluster!: TestCluster;
  balancer!: TcpBalancer;
  client!: GoferClient;
  clusterId = '';
  /** In front of worker 2's Redis, when the file asked for it (to cut that worker off Redis). */
  redisProxy: FaultProxy | undefined;
  private apiAddrs: Array<{ grpc: string; http: string }> = [];
  private creations: ContainerCreations | undefined;
  private events: EventFollower | undefined;
  private baseline = { pg: 0, redis: 0, rss: new Map<string, number>() };
  private notes: string[] = [];
  /** Which slot (worker-1, worker-2) each worker id ran in, for the report. */
  private readonly slots = new Map<string, string>();
  /** Background measurements of the current scenario, awaited before its report row. */
  private watches: Promise<void>[] = [];

  private constructor(readonly label: string) {}

  /**
   * Brings the cluster up: dedicated Postgres and Redis, two API processes behind the balancer, two
   * workers whose task containers reach the API through the balancer too, the pipelines, the event
   * follower and the Docker event watch. `redisProxy` puts worker 2's Redis behind a FaultProxy.
   */
  static async start(label: string, options: { env?: Record<string, string>; redisProxy?: boolean } = {}): Promise<Chaos> {
    const chaos = new Chaos(label);
    try {
      await chaos.setUp(options);
      return chaos;
    } catch (error) {
      await chaos.destroy();
      throw error;
    }
  }

  private async setUp(options: { env?: Record<string, string>; redisProxy?: boolean }): Promise<void> {
    this.postgres = await DedicatedPostgres.create(this.label);
    this.redis = await DedicatedRedis.create();
    this.cluster = await TestCluster.create(`chaos_${this.label}`, {
      GOFER_LOG_CAP_BYTES: String(LOG_CAP_BYTES),
      GOFER_OBJECT_MAX_BYTES: String(OBJECT_MAX_BYTES),
      // info: adoptions are logged there, which the report counts.
      GOFER_LOG_LEVEL: 'info',
      // Runs' objects must outlive the checks of the scenario that made them (the default keeps 20 runs').
      GOFER_RUN_OBJECT_EXPIRY: '100000',
      ...options.env,
    }, { postgres: this.postgres.url, redisUrl: this.redis.url });
    for (let i = 0; i < 2; i++) this.apiAddrs.push({ grpc: `127.0.0.1:${await freePort()}`, http: `127.0.0.1:${await freePort()}` });
    this.balancer = await TcpBalancer.start(this.apiAddrs.map((a) => a.grpc));
    if (options.redisProxy) this.redisProxy = await FaultProxy.start({ port: this.redis.port });
    for (let i = 0; i < 2; i++) await this.startApi(i);
    for (let i = 0; i < 2; i++) await this.startWorker(i);
    this.client = createGoferClient({ address: this.balancer.address, token: this.cluster.token, timeoutMs: 10_000 });
    for (const yaml of Object.values(PIPELINES)) await apply(this.client, yaml);
    await this.client.putPipelineSecret({ namespaceId: 'default', pipelineId: 'dag', key: 'TOKEN', value: SECRET });
    this.clusterId = await this.cluster.clusterId();
    this.creations = await ContainerCreations.watch({ 'gofer.cluster': this.clusterId });
    this.events = new EventFollower(this);
    this.events.start();
    this.baseline = { pg: await this.pgConnections(), redis: await this.redis.clients(), rss: this.rssBySlot() };
  }

  /** Adds a line to the current scenario's row of the report. */
  note(text: string): void {
    this.notes.push(text);
  }

  /** Starts API replica `i` (0 or 1) where the balancer expects it. */
  async startApi(i: number): Promise<GoferProcess> {
    const { grpc, http } = this.apiAddrs[i];
    const began = Date.now();
    this.apis[i] = await this.cluster.start('api', { GOFER_GRPC_ADDR: grpc, GOFER_HTTP_ADDR: http, GOFER_ADVERTISE_ADDR: this.balancer.address });
    this.note(`api-${i + 1} started in ${((Date.now() - began) / 1000).toFixed(1)} s`);
    return this.apis[i];
  }

  /** Starts worker `i` (0 or 1); worker 2 reaches Redis through the proxy when there is one. */
  async startWorker(i: number): Promise<GoferProcess> {
    const began = Date.now();
    this.workers[i] = await this.cluster.start('worker', {
      GOFER_WORKER_CONCURRENCY: '6',
      GOFER_ADVERTISE_ADDR: this.balancer.address,
      ...(i === 1 && this.redisProxy ? { GOFER_REDIS_URL: this.redisProxy.rewrite(this.redis.url) } : {}),
    });
    this.slots.set(this.workers[i].workerId, `worker-${i + 1} (pid ${this.workers[i].child.pid})`);
    this.note(`worker-${i + 1} started in ${((Date.now() - began) / 1000).toFixed(1)} s`);
    return this.workers[i];
  }

  /** SIGKILLs API replica `i`, noting how many client connections (followers, the load) the balancer had open to it. */
  async killApi(i: number): Promise<void> {
    const open = this.balancer.stats().open[this.apiAddrs[i].grpc];
    await this.apis[i].kill('SIGKILL');
    this.note(`api-${i + 1} SIGKILLed with ${open} client connections open to it`);
  }

  /**
   * SIGKILLs worker `i`, noting how many attempts it was running and, once another worker has taken
   * each over (or it completed), how long after the kill the last one was (reported, not asserted).
   */
  async killWorker(i: number): Promise<void> {
    const victim = this.workers[i].workerId;
    const stranded = await this.cluster.query<{ pipeline_id: string; run_id: number; task_id: string; attempt: number }>(
      `SELECT pipeline_id, run_id, task_id, attempt FROM task_runs WHERE state = 'running' AND worker_id = $1`, [victim],
    );
    await this.workers[i].kill('SIGKILL');
    const killedAt = Date.now();
    this.watches.push((async () => {
      const taken = await waitFor('the stranded attempts to be taken over', async () => {
        const rows = await this.cluster.query<{ n: number }>(
          `SELECT count(*)::int AS n FROM task_runs t JOIN unnest($1::text[], $2::int[], $3::text[], $4::int[]) AS s (p, r, task, a)
              ON t.pipeline_id = s.p AND t.run_id = s.r AND t.task_id = s.task
           WHERE t.attempt = s.a AND t.state = 'running' AND t.worker_id = $5`,
          [stranded.map((s) => s.pipeline_id), stranded.map((s) => s.run_id), stranded.map((s) => s.task_id), stranded.map((s) => s.attempt), victim],
        );
        return rows[0].n === 0 ? Date.now() : undefined;
      }, 90_000).catch(() => undefined);
      this.note(`worker-${i + 1} SIGKILLed running ${stranded.length} attempts; ${taken ? `all taken over or complete ${((taken - killedAt) / 1000).toFixed(1)} s after the kill` : 'not all taken over within 90 s'}`);
    })());
  }

  /** The worker running the most task attempts right now (the one whose death strands the most work). */
  async busiestWorker(): Promise<number> {
    const rows = await this.cluster.query<{ worker_id: string; n: number }>(
      `SELECT worker_id, count(*)::int AS n FROM task_runs WHERE state = 'running' GROUP BY worker_id ORDER BY n DESC`,
    );
    const index = this.workers.findIndex((w) => w.workerId === rows[0]?.worker_id && alive(w));
    return index >= 0 ? index : 0;
  }

  /** Starts whatever a previous scenario killed, so every scenario begins with two APIs and two workers. */
  private async fullStrength(): Promise<void> {
    for (let i = 0; i < 2; i++) if (!alive(this.apis[i])) await this.startApi(i);
    for (let i = 0; i < 2; i++) if (!alive(this.workers[i])) await this.startWorker(i);
  }

  /**
   * Runs one scenario: load, then the fault once runs are under way, load for a while after it ends,
   * then the checks (bounded in time). Returns what they found; the spec asserts it is clean.
   */
  async scenario(name: string, fault: Fault, mix: readonly PipelineId[] = DEFAULT_MIX): Promise<ScenarioOutcome> {
    const began = Date.now();
    this.notes = [];
    this.watches = [];
    await this.fullStrength();
    const logFrom = new Map(this.cluster.processes.map((p) => [p, p.output().length]));
    const eventsFrom = await this.lastEventId();
    const runsFrom = new Map((await this.cluster.query<{ pipeline_id: string; id: number }>(
      'SELECT pipeline_id, max(id)::int AS id FROM runs GROUP BY pipeline_id',
    )).map((r) => [r.pipeline_id, r.id]));
    const exitsBefore = this.events!.exits.length;
    const load = new Load(this, name, mix);
    load.start();
    let faultStart = 0;
    let faultEnd = 0;
    try {
      await waitFor('the load to be under way', async () => {
        if (load.runs.length < 3) return undefined;
        const [{ n }] = await this.cluster.query<{ n: number }>(`SELECT count(*)::int AS n FROM task_runs WHERE state = 'running'`);
        return n > 0 ? true : undefined;
      }, 60_000);
      faultStart = Date.now();
      await fault.inject(this);
      if (fault.holdMs) await sleep(fault.holdMs);
      await fault.restore?.(this);
      faultEnd = Date.now();
      await sleep(TAIL_MS);
    } finally {
      await load.stop();
    }
    const loadEnded = Date.now();

    const w = new ScenarioWindow((pipelineId, runId) => runId > (runsFrom.get(pipelineId) ?? 0));
    await this.checkRuns(w, load);
    const settled = Date.now();
    await this.checkOutcomes(w);
    w.step('outcomes');
    const containers = await this.checkContainers(w);
    this.checkCancels(w);
    w.step('containers');
    const events = await this.checkEvents(w, eventsFrom, exitsBefore, faultStart);
    w.step('events');
    await this.checkFollowedLogs(w, load);
    w.step('logs');
    const leaks = await this.checkLeaks(w);
    w.step('leaks');

    // Recovery and what the cluster did, reported, not asserted.
    await Promise.all(this.watches);
    const retried = w.tasks.filter((t) => t.attempt > 1 && !(t.pipeline_id === 'dag' && t.task_id === 'flaky' && t.attempt === 2));
    if (retried.length) this.note(`needed more attempts: ${retried.map((t) => `${t.pipeline_id}/${t.run_id}/${t.task_id}×${t.attempt}`).join(', ')}`);
    this.noteProcessLogs(logFrom);
    this.note(`phases: load ${seconds(loadEnded - began)}, runs settled ${seconds(settled - loadEnded)}, checks ${seconds(Date.now() - settled)} (${w.steps.join(', ')})`);
    const earlier = w.runs.filter((r) => new Date(r.created).getTime() < faultStart);
    const lastEarlier = earlier.every((r) => r.ended) ? Math.max(0, ...earlier.map((r) => new Date(r.ended!).getTime())) : undefined;
    const [{ first }] = await this.cluster.query<{ first: Date | null }>(
      `SELECT min(emitted) AS first FROM events WHERE kind = 'task_run_completed' AND emitted > to_timestamp($1 / 1000.0)`, [faultEnd],
    );
    const byPipeline: Record<string, number> = {};
    for (const r of w.runs) byPipeline[r.pipeline_id] = (byPipeline[r.pipeline_id] ?? 0) + 1;
    const outcome: ScenarioOutcome = {
      name,
      runs: w.runs.length,
      byPipeline,
      faultMs: faultEnd - faultStart,
      allEarlierCompleteMs: lastEarlier === undefined ? null : Math.max(0, lastEarlier - faultEnd),
      firstCompletionMs: first ? new Date(first).getTime() - faultEnd : null,
      containers,
      duplicates: w.count('duplicate'),
      losses: w.count('loss'),
      eventsFollowed: events.followed,
      logsFollowed: load.followers.length,
      followerExits: events.exits,
      leaks,
      notes: this.notes,
      problems: w.problems,
      durationMs: Date.now() - began,
    };
    this.outcomes.push(outcome);
    console.log(`chaos ${this.label} / ${name}: ${JSON.stringify({ ...outcome, problems: w.problems.length })}`);
    for (const problem of w.problems) console.log(`  ${problem.kind}: ${problem.detail}`);
    return outcome;
  }

  /** Waits (bounded) for every run of the scenario to complete; loads its runs, task runs and cancels. */
  private async checkRuns(w: ScenarioWindow, load: Load): Promise<void> {
    const scenarioRuns = async () => (await this.cluster.query<RunRow>('SELECT pipeline_id, id, state, status, created, ended FROM runs'))
      .filter((r) => w.inScenario(r.pipeline_id, r.id));
    await waitFor('every run of the scenario to complete', async () => ((await scenarioRuns()).every((r) => r.state === 'complete') ? true : undefined), SETTLE_MS)
      .catch(() => undefined);
    w.runs = await scenarioRuns();
    for (const r of w.runs.filter((run) => run.state !== 'complete')) w.problem('loss', `run ${r.pipeline_id}/${r.id} did not complete (${r.state})`);
    for (const r of load.runs) {
      if (!w.runs.some((row) => row.pipeline_id === r.pipelineId && row.id === r.id)) w.problem('loss', `run ${r.pipelineId}/${r.id} was started but is not in the database`);
    }
    for (const key of load.unstarted) w.problem('loss', `run start ${key} did not succeed within 60 s`);
    w.tasks = (await this.cluster.query<TaskRow>(
      `SELECT run_id, pipeline_id, task_id, state, status, status_reason->>'reason' AS reason, status_reason->>'description' AS description,
              worker_id, attempt, exit_code, scheduler_id, logs_truncated, started, past_attempts FROM task_runs`,
    )).filter((t) => w.inScenario(t.pipeline_id, t.run_id));
    const cancels = await this.cluster.query<{ pipeline_id: string; run_id: number; emitted: Date }>(
      `SELECT pipeline_id, run_id, min(emitted) AS emitted FROM events WHERE kind = 'run_cancel_requested' GROUP BY pipeline_id, run_id`,
    );
    for (const c of cancels.filter((e) => w.inScenario(e.pipeline_id, e.run_id))) w.cancelledAt.set(`${c.pipeline_id}/${c.run_id}`, new Date(c.emitted).getTime());
  }

  /**
   * Each run ended as its DAG dictates; the objects its tasks stored are there (none over the limit); its
   * archived logs are what the containers wrote (the secret masked, every line once, the cap applied).
   */
  private async checkOutcomes(w: ScenarioWindow): Promise<void> {
    const objects = (await this.cluster.query<{ pipeline_id: string; run_id: number; key: string; size: string }>(
      'SELECT pipeline_id, run_id, key, size FROM objects WHERE run_id > 0',
    )).filter((o) => w.inScenario(o.pipeline_id, o.run_id));
    const has = (pipelineId: string, runId: number, key: string) => objects.some((o) => o.pipeline_id === pipelineId && o.run_id === runId && o.key === key);
    for (const o of objects.filter((o) => Number(o.size) > OBJECT_MAX_BYTES)) {
      w.problem('status', `run object ${o.pipeline_id}/${o.run_id}/${o.key} of ${o.size} bytes is over the ${OBJECT_MAX_BYTES}-byte limit`);
    }
    for (const run of w.runs.filter((r) => r.state === 'complete')) {
      const where = `run ${run.pipeline_id}/${run.id}`;
      const own = Object.fromEntries(w.tasks.filter((t) => t.pipeline_id === run.pipeline_id && t.run_id === run.id).map((t) => [t.task_id, t]));
      for (const detail of expectations(run.pipeline_id as PipelineId, run.status, own, w.cancelledAt.has(`${run.pipeline_id}/${run.id}`))) {
        w.problem('status', `${where}: ${detail}`);
      }
      if (run.pipeline_id === 'dag') {
        if (!has('dag', run.id, 'artifact')) w.problem('loss', `${where} has no run object "artifact"`);
        const log = await readLogs(this.client, 'dag', run.id, 'secret').catch((error: Error) => `(unreadable: ${error.message})`);
        if (log !== 'token=[masked]\n') w.problem('status', `${where}: the secret task's log is ${JSON.stringify(log.slice(0, 200))}`);
        // Every line once, in order: none lost or doubled by a worker taking the attempt over.
        const chatty = await readLogStreams(this.client, 'dag', run.id, 'chatty').catch(() => ({ stdout: '(unreadable)', stderr: '' }));
        const lines = Array.from({ length: 15 }, (_, i) => i + 1);
        const want = { stdout: lines.map((i) => `run ${run.id} line ${i}\n`).join(''), stderr: lines.map((i) => `note ${i}\n`).join('') };
        if (chatty.stdout !== want.stdout || chatty.stderr !== want.stderr) {
          const count = (text: string) => text.split('\n').filter(Boolean).length;
          w.problem(count(chatty.stdout) + count(chatty.stderr) > 30 ? 'duplicate' : 'loss',
            `${where}: the archived log of chatty has ${count(chatty.stdout)} stdout and ${count(chatty.stderr)} stderr lines, not the 15 and 15 it wrote in order`);
        }
      }
      if (run.pipeline_id === 'hogs') {
        if (!has('hogs', run.id, 'small')) w.problem('loss', `${where} has no run object "small"`);
        const noisy = await readLogStreams(this.client, 'hogs', run.id, 'noisy').catch(() => ({ stdout: '', stderr: '' }));
        const marker = `[gofer] log truncated: output exceeded the ${LOG_CAP_BYTES}-byte cap`;
        const kept = noisy.stdout.replace(`\n${marker}\n`, '');
        if (!noisy.stdout.includes(marker) || Buffer.byteLength(kept) > LOG_CAP_BYTES || !kept.startsWith(`noisy line 0 of run ${run.id},`)) {
          w.problem('status', `${where}: the archived log of noisy (${Buffer.byteLength(noisy.stdout)} bytes) is not the first ${LOG_CAP_BYTES} bytes plus the truncation marker`);
        }
      }
    }
  }

  /**
   * Each attempt that had a container (its id recorded) had exactly one, from Docker's own events;
   * no container for an attempt Gofer recorded none for. Returns how many the scenario's runs created.
   */
  private async checkContainers(w: ScenarioWindow): Promise<number> {
    const expected = new Set<string>();
    // A cancel that lands while the worker creates the container ends the attempt before its id is
    // recorded (libs/engine/src/task.processor.ts): its container may exist, once, and is stopped.
    const cancelledWhileStarting = new Set<string>();
    for (const t of w.tasks) {
      const name = this.containerName(t.pipeline_id, t.run_id, t.task_id, t.attempt);
      if (t.scheduler_id) expected.add(name);
      else if (t.status === 'cancelled') cancelledWhileStarting.add(name);
      for (const past of t.past_attempts) if (past.schedulerId) expected.add(this.containerName(t.pipeline_id, t.run_id, t.task_id, past.attempt));
    }
    const creations = this.creations!;
    await waitFor('docker events to arrive', async () => ([...expected].every((name) => creations.names.includes(name)) ? true : undefined), 10_000)
      .catch(() => undefined);
    const created = new Map([...creations.counts()].filter(([name]) => this.inWindow(w, name)));
    for (const [name, n] of created) {
      if (n > 1) w.problem('duplicate', `container ${name} was created ${n} times`, n - 1);
      if (!expected.has(name) && !cancelledWhileStarting.has(name)) w.problem('duplicate', `container ${name} was created for an attempt with no container recorded`);
    }
    for (const name of expected) if (!created.has(name)) w.problem('loss', `no creation of container ${name} was seen`);
    return [...created.values()].reduce((a, b) => a + b, 0);
  }

  /**
   * No attempt of a cancelled run started after the cancel committed. Containers created after it, for
   * attempts claimed before it, are counted for the report (the worker stops them at once).
   */
  private checkCancels(w: ScenarioWindow): void {
    const creations = this.creations!;
    const late = creations.names.filter((name, index) => {
      const { pipelineId, runId } = this.parseContainerName(name) ?? {};
      const cancel = w.cancelledAt.get(`${pipelineId}/${runId}`);
      return cancel !== undefined && this.inWindow(w, name) && creations.times[index] > cancel;
    });
    if (late.length) this.note(`${late.length} containers created after their run's cancel committed (attempts claimed before it)`);
    for (const t of w.tasks) {
      const cancel = w.cancelledAt.get(`${t.pipeline_id}/${t.run_id}`);
      if (cancel === undefined) continue;
      for (const s of [{ attempt: t.attempt, started: t.started }, ...t.past_attempts]) {
        const started = s.started ? new Date(s.started).getTime() : undefined;
        if (started !== undefined && started > cancel) {
          w.problem('after-cancel', `${t.pipeline_id}/${t.run_id}/${t.task_id} attempt ${s.attempt} started ${started - cancel} ms after its run was cancelled`);
        }
      }
    }
  }

  /** The followed events against the events table: no gap, no duplicate; the follower did not exit. */
  private async checkEvents(w: ScenarioWindow, from: number, exitsBefore: number, faultStart: number): Promise<{ followed: number; exits: number }> {
    const follower = this.events!;
    const to = await this.lastEventId();
    await waitFor('the event follower to catch up', async () => (follower.highest >= to ? true : undefined), 20_000).catch(() => undefined);
    // Ids come from a sequence: rolled-back transactions leave holes, so sets are compared, not ranges.
    const stored = (await this.cluster.query<{ id: number }>('SELECT id::int AS id FROM events WHERE id > $1 AND id <= $2', [from, to])).map((e) => e.id);
    const storedSet = new Set(stored);
    const followed = [...follower.seen].filter(([id]) => id > from && id <= to);
    const missing = stored.filter((id) => !follower.seen.has(id));
    const extra = followed.filter(([id]) => !storedSet.has(id)).map(([id]) => id);
    const repeated = followed.filter(([, n]) => n > 1);
    if (missing.length) {
      w.problem('loss', `the event follower missed ${missing.length} of ${stored.length} events: ${missing.slice(0, 10).join(', ')}${missing.length > 10 ? ' …' : ''}`, missing.length);
    }
    if (extra.length) w.problem('duplicate', `the event follower printed ids not in the table: ${extra.slice(0, 10).join(', ')}`, extra.length);
    if (repeated.length) {
      w.problem('duplicate', `the event follower printed ${repeated.length} events more than once: ${repeated.slice(0, 10).map(([id, n]) => `${id}×${n}`).join(', ')}`,
        repeated.reduce((sum, [, n]) => sum + n - 1, 0));
    }
    const exits = follower.exits.slice(exitsBefore);
    for (const exit of exits) {
      w.problem('follow', `the event follower (gofer event list --follow) exited with ${exit.code} ${exit.at - faultStart} ms after the fault began: ${exit.stderr.trim()}`);
    }
    return { followed: followed.length, exits: exits.length };
  }

  /** Each followed log ended on its own (exit 0) and equals the archived log, stream by stream. */
  private async checkFollowedLogs(w: ScenarioWindow, load: Load): Promise<void> {
    for (const f of load.followers) {
      const what = `the followed log of ${f.pipelineId}/${f.runId}/${f.taskId}`;
      const code = await f.cli.exit(FOLLOWER_END_MS);
      if (code === undefined) {
        f.cli.kill();
        w.problem('follow', `${what} was still following ${FOLLOWER_END_MS / 1000} s after its run completed`);
        continue;
      }
      if (code !== 0) {
        w.problem('follow', `${what}: the CLI exited with ${code}: ${f.cli.stderr.trim().slice(-300)}`);
        continue;
      }
      const archived = new Cli(this.balancer.address, this.cluster.token, ['taskrun', 'logs', f.pipelineId, String(f.runId), f.taskId]);
      if ((await archived.exit(FOLLOWER_END_MS)) !== 0) {
        archived.kill();
        w.problem('follow', `reading the archived log of ${f.pipelineId}/${f.runId}/${f.taskId} failed: ${archived.stderr.trim().slice(-300)}`);
        continue;
      }
      if (f.cli.stdout !== archived.stdout || f.cli.stderr !== archived.stderr) {
        w.problem('follow', `${what} differs from the archived log: followed ${f.cli.stdout.length}+${f.cli.stderr.length} bytes, archived ${archived.stdout.length}+${archived.stderr.length} bytes`);
      }
    }
  }

  /** Connection counts come back near the baseline (bounded wait); RSS stays within a generous bound. */
  private async checkLeaks(w: ScenarioWindow): Promise<ScenarioOutcome['leaks']> {
    const bound = { pg: this.baseline.pg + PG_CONNECTION_SLACK, redis: this.baseline.redis + REDIS_CLIENT_SLACK };
    let now = { pg: 0, redis: 0 };
    await waitFor('connection counts to settle', async () => {
      now = { pg: await this.pgConnections(), redis: await this.redis.clients() };
      return now.pg <= bound.pg && now.redis <= bound.redis ? true : undefined;
    }, LEAK_SETTLE_MS).catch(() => undefined);
    if (now.pg > bound.pg) w.problem('leak', `${now.pg} Postgres connections (baseline ${this.baseline.pg})`);
    if (now.redis > bound.redis) w.problem('leak', `${now.redis} Redis clients (baseline ${this.baseline.redis})`);
    const rss: string[] = [];
    for (const [slot, kb] of this.rssBySlot()) {
      const base = this.baseline.rss.get(slot);
      if (base === undefined) continue;
      rss.push(`${slot} ${Math.round(base / 1024)}→${Math.round(kb / 1024)}`);
      if (kb > base * RSS_FACTOR + RSS_SLACK_KB) w.problem('leak', `${slot} RSS grew from ${base} kB to ${kb} kB`);
    }
    return { pg: [this.baseline.pg, now.pg], redis: [this.baseline.redis, now.redis], rss: rss.join(', ') };
  }

  private async lastEventId(): Promise<number> {
    const [{ id }] = await this.cluster.query<{ id: number }>('SELECT coalesce(max(id), 0)::int AS id FROM events');
    return id;
  }

  /** A task attempt's container name (libs/queue/src/task-attempt-key.ts), in the default namespace. */
  private containerName(pipelineId: string, runId: number, taskId: string, attempt: number): string {
    return `gofer.${this.clusterId.slice(0, 8)}.default.${pipelineId}.${runId}.${taskId}.${attempt}`;
  }

  private parseContainerName(name: string): { pipelineId: string; runId: number } | undefined {
    const prefix = `gofer.${this.clusterId.slice(0, 8)}.default.`;
    if (!name.startsWith(prefix)) return undefined;
    const [pipelineId, runId] = name.slice(prefix.length).split('.');
    return { pipelineId, runId: Number(runId) };
  }

  /** Whether a container belongs to a run of the scenario. */
  private inWindow(w: ScenarioWindow, name: string): boolean {
    const parsed = this.parseContainerName(name);
    return parsed !== undefined && w.inScenario(parsed.pipelineId, parsed.runId);
  }

  /** Notes, per process, how many warnings and errors it logged during the scenario, and the distinct messages. */
  private noteProcessLogs(from: Map<GoferProcess, number>): void {
    const slotOf = (p: GoferProcess) => {
      const api = this.apis.indexOf(p);
      const worker = this.workers.indexOf(p);
      return api >= 0 ? `api-${api + 1}` : worker >= 0 ? `worker-${worker + 1}` : p.roles;
    };
    for (const p of this.cluster.processes) {
      const all = p.output().slice(from.get(p) ?? 0).split('\n');
      const adoptions = all.filter((line) => line.includes('"msg":"adopting task attempt"'));
      if (adoptions.length) {
        this.note(`${slotOf(p)} adopted ${adoptions.length} attempts: ${adoptions.slice(0, 8).map((line) => {
          const entry = JSON.parse(line) as { pipeline_id: string; run_id: number; task_id: string; attempt: number; previous_worker: string };
          return `${entry.pipeline_id}/${entry.run_id}/${entry.task_id}.${entry.attempt} from ${this.slots.get(entry.previous_worker) ?? entry.previous_worker}`;
        }).join(', ')}${adoptions.length > 8 ? ' …' : ''}`);
      }
      const lines = all.filter((line) => /"level":(40|50|60)/.test(line));
      if (lines.length === 0) continue;
      const messages = new Map<string, number>();
      for (const line of lines) {
        let text = line.slice(0, 200);
        try {
          const entry = JSON.parse(line) as { msg?: string; err?: { message?: string; code?: string } };
          text = `${entry.msg ?? ''}${entry.err ? ` (${entry.err.code ?? ''} ${entry.err.message ?? ''})` : ''}`.slice(0, 200);
        } catch {
          // not JSON (a crash's stack trace): the raw line
        }
        messages.set(text, (messages.get(text) ?? 0) + 1);
      }
      const top = [...messages].sort((a, b) => b[1] - a[1]).slice(0, 4).map(([m, n]) => `${n}× ${m}`).join(' / ');
      this.note(`${slotOf(p)} (pid ${p.child.pid}) logged ${lines.length} warnings/errors: ${top}`);
    }
  }

  private async pgConnections(): Promise<number> {
    return this.postgres.connections(new URL(this.cluster.databaseUrl).pathname.slice(1));
  }

  /**
   * VmRSS (kB) of the live process in each slot (api-1, api-2, worker-1, worker-2): a restarted process
   * is held to the bound of the one it replaced.
   */
  private rssBySlot(): Map<string, number> {
    const rss = new Map<string, number>();
    const slots = [...this.apis.map((p, i) => [`api-${i + 1}`, p] as const), ...this.workers.map((p, i) => [`worker-${i + 1}`, p] as const)];
    for (const [slot, p] of slots) {
      if (!alive(p) || !p.child.pid) continue;
      try {
        const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${p.child.pid}/status`, 'utf8'));
        if (match) rss.set(slot, Number(match[1]));
      } catch {
        // exited meanwhile
      }
    }
    return rss;
  }

  /**
   * Writes this file's table to test/.tmp/chaos/<label>.md and rebuilds test/.tmp/chaos-report.md from
   * every file's table (the chaos files run in parallel), then prints this file's.
   */
  writeReport(): void {
    const dir = join(ROOT, 'test/.tmp/chaos');
    mkdirSync(dir, { recursive: true });
    const lines = [
      `### ${this.label} (${new Date().toISOString()}, file took ${seconds(Date.now() - this.fileStarted)})`,
      '',
      '| scenario | runs | fault lasted | earlier runs complete after fault end | first task completion after fault end | containers | duplicates | losses | events followed | logs followed | follower exits | pg conns (base→end) | redis clients (base→end) | RSS MB (base→end) | notes | problems | scenario took |',
      '|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|',
      ...this.outcomes.map((o) => `| ${[
        o.name, `${o.runs} (${Object.entries(o.byPipeline).map(([p, n]) => `${p} ${n}`).join(', ')})`, seconds(o.faultMs), seconds(o.allEarlierCompleteMs),
        seconds(o.firstCompletionMs), o.containers, o.duplicates, o.losses, o.eventsFollowed, o.logsFollowed, o.followerExits,
        o.leaks.pg.join('→'), o.leaks.redis.join('→'), o.leaks.rss, o.notes.join('; ') || '', o.problems.length ? o.problems.map((p) => `${p.kind}: ${p.detail}`).join('<br>').replace(/\|/g, '\\|') : 'none',
        seconds(o.durationMs),
      ].join(' | ')} |`),
      '',
    ];
    writeFileSync(join(dir, `${this.label}.md`), lines.join('\n'));
    const parts = readdirSync(dir).filter((f) => f.endsWith('.md')).sort().map((f) => readFileSync(join(dir, f), 'utf8'));
    writeFileSync(join(ROOT, 'test/.tmp/chaos-report.md'), [
      '# Chaos report',
      '',
      'One table per chaos spec file (test/chaos/); times are measured, not asserted. "Earlier runs complete": from the',
      "end of the fault until every run created before the fault began was complete (0 when they all were before it ended).",
      '',
      ...parts,
    ].join('\n'));
    console.log(lines.join('\n'));
  }

  async destroy(): Promise<void> {
    this.events?.stop();
    for (const cli of clis) cli.kill();
    this.creations?.stop();
    this.client?.close();
    await this.cluster?.destroy().catch((error: Error) => console.warn(`chaos clean-up: ${error.message}`));
    if (this.cluster) rmSync(this.cluster.objectStore.replace(/^fs:\/\//, ''), { recursive: true, force: true });
    await this.balancer?.close();
    await this.redisProxy?.close();
    await this.redis?.stop();
    await this.postgres?.drop();
  }
}

function alive(p: GoferProcess | undefined): p is GoferProcess {
  return p !== undefined && p.child.exitCode === null && p.child.signalCode === null;
}

/** What each pipeline's run must end as (docs/design.md §3): problems, or none. */
function expectations(pipelineId: PipelineId, status: string | null, tasks: Record<string, TaskRow>, cancelled: boolean): string[] {
  const problems: string[] = [];
  const expectRun = (want: string) => {
    if (status !== want) problems.push(`status ${status}, expected ${want}`);
  };
  const expectTask = (taskId: string, want: { status: string | string[]; attempts?: number | [number, number]; reason?: string; truncated?: boolean }) => {
    const t = tasks[taskId];
    if (!t) return problems.push(`task ${taskId} is missing`);
    const statuses = Array.isArray(want.status) ? want.status : [want.status];
    const seen = `${t.status} (${t.reason}: ${t.description}; exit code ${t.exit_code}; worker ${t.worker_id})`;
    if (!statuses.includes(t.status ?? '')) problems.push(`task ${taskId} ${seen}, expected ${statuses.join(' or ')}`);
    const [low, high] = Array.isArray(want.attempts) ? want.attempts : [want.attempts ?? 1, want.attempts ?? 1];
    if (t.attempt < low || t.attempt > high) problems.push(`task ${taskId} ended on attempt ${t.attempt}, expected ${low === high ? low : `${low}..${high}`}`);
    if (want.reason && t.reason !== want.reason) problems.push(`task ${taskId} ${seen}, expected reason ${want.reason}`);
    if (want.truncated !== undefined && t.logs_truncated !== want.truncated) problems.push(`task ${taskId} logs_truncated ${t.logs_truncated}`);
    return undefined;
  };
  switch (pipelineId) {
    case 'dag':
      expectRun('successful');
      for (const id of ['root', 'left', 'right', 'chatty', 'secret', 'join']) expectTask(id, { status: 'successful' });
      expectTask('flaky', { status: 'successful', attempts: 2 });
      expectTask('write', { status: 'successful', attempts: [1, 5] });
      expectTask('read', { status: 'successful', attempts: [1, 5] });
      break;
    case 'timeouts':
      expectRun('failed');
      expectTask('slow', { status: 'failed', reason: 'timeout' });
      expectTask('cleanup', { status: 'successful' });
      expectTask('never', { status: 'skipped', attempts: [0, 1] });
      break;
    case 'cancels':
      if (cancelled) {
        expectRun('cancelled');
        expectTask('hold', { status: ['cancelled', 'successful'] });
        expectTask('after', { status: ['cancelled', 'skipped'] });
      } else {
        expectRun('successful');
        expectTask('hold', { status: 'successful' });
        expectTask('after', { status: 'successful' });
      }
      break;
    case 'hogs':
      expectRun('failed');
      expectTask('noisy', { status: 'successful', truncated: true });
      expectTask('big', { status: 'failed', reason: 'abnormal_exit' });
      expectTask('small', { status: 'successful', attempts: [1, 5] });
      break;
  }
  return problems;
}
