// One Gofer process for a benchmark: its own database (Gofer creates it), Redis key prefix, object
// store directory and log file, everything on 127.0.0.1. `destroy()` removes all of it.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, openSync, closeSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import Docker from 'dockerode';
import { Redis } from 'ioredis';
import pg from 'pg';
import { createGoferClient } from '@gofer/proto';

export const ROOT = resolve(import.meta.dirname, '../..');
export const RESULTS_DIR = join(ROOT, 'bench/results');
const HOST_SCRIPT = join(import.meta.dirname, 'gofer-host.mjs');
const POSTGRES = process.env.GOFER_BENCH_POSTGRES ?? 'postgres://postgres@127.0.0.1:5432';
const REDIS_URL = 'redis://127.0.0.1:6379';

export const docker = new Docker({ socketPath: '/var/run/docker.sock' });

export async function freePort() {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolvePort(address.port) : reject(new Error('no free port'))));
    });
  });
}

/** Reads VmRSS / VmHWM (peak RSS) of a process from /proc, in bytes. */
export function memoryOf(pid) {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const field = (name) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN) * 1024;
  return { rss: field('VmRSS'), hwm: field('VmHWM') };
}

/**
 * Starts `node bench/support/gofer-host.mjs <scheduler>` with a fresh database and prefix, and waits
 * until its /healthz answers.
 * @param {{ name: string, scheduler: 'docker' | 'noop' | 'nomad', env?: Record<string, string> }} options
 *   `nomad` boots Gofer's own Nomad scheduler from the GOFER_NOMAD_* variables in `env`.
 */
export async function startCluster(options) {
  // `npm run build` empties dist/ before compiling: if someone rebuilds while a benchmark boots Gofer,
  // its modules are briefly missing. Try again a little later instead of losing the whole run.
  for (let attempt = 1; ; attempt++) {
    try {
      return await startClusterOnce(options);
    } catch (error) {
      if (!(error instanceof DistMissingError) || attempt >= 3) throw error;
      await sleep(5000);
    }
  }
}

class DistMissingError extends Error {}

async function startClusterOnce({ name, scheduler, env = {} }) {
  const suffix = randomBytes(4).toString('hex');
  const database = `gofer_bench_${name.replace(/[^a-z0-9]/g, '_')}_${suffix}`;
  const databaseUrl = `${POSTGRES}/${database}`;
  const redisPrefix = `goferBench_${name.replace(/[^A-Za-z0-9]/g, '')}_${suffix}`;
  const objects = mkdtempSync(join(tmpdir(), `gofer-bench-${name}-`));
  const grpcAddr = `127.0.0.1:${await freePort()}`;
  const httpAddr = `127.0.0.1:${await freePort()}`;
  mkdirSync(RESULTS_DIR, { recursive: true });
  const logFile = join(RESULTS_DIR, `gofer-${name}.log`);
  const logFd = openSync(logFile, 'w');
  // GOFER_BENCH_CPU_PROFILE=1 writes a V8 CPU profile of the Gofer process (open it in Chrome DevTools).
  const profileFile = process.env.GOFER_BENCH_CPU_PROFILE === '1' ? join(RESULTS_DIR, 'profiles', `gofer-${name}-${suffix}.cpuprofile`) : undefined;
  const profile = profileFile
    ? ['--cpu-prof', `--cpu-prof-dir=${join(RESULTS_DIR, 'profiles')}`, `--cpu-prof-name=gofer-${name}-${suffix}.cpuprofile`]
    : [];
  // GOFER_BENCH_NODE_FLAGS adds Node/V8 flags to the Gofer process (e.g. --trace-gc), for experiments.
  const extraFlags = (process.env.GOFER_BENCH_NODE_FLAGS ?? '').split(/\s+/).filter(Boolean);
  const child = spawn(process.execPath, [...extraFlags, ...profile, HOST_SCRIPT, scheduler], {
    cwd: ROOT,
    env: {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '/root',
      GOFER_DATABASE_URL: databaseUrl,
      GOFER_REDIS_URL: REDIS_URL,
      GOFER_REDIS_PREFIX: redisPrefix,
      GOFER_OBJECT_STORE: `fs://${objects}`,
      GOFER_DOCKER_NETWORK: 'host',
      GOFER_GRPC_ADDR: grpcAddr,
      GOFER_HTTP_ADDR: httpAddr,
      GOFER_WORKER_ID: `bench-${name}-${suffix}`,
      GOFER_LOG_LEVEL: 'info',
      // Built-in triggers and notifiers run containers of their own: only the benches of them opt in.
      GOFER_BUILTIN_TRIGGERS: 'none',
      GOFER_BUILTIN_NOTIFIERS: 'none',
      ...env,
    },
    // Logs go straight to a file: the parent never touches them, so they cost the child what they cost in production.
    stdio: ['ignore', logFd, logFd, 'ipc'],
  });
  closeSync(logFd);
  const exited = new Promise((resolveExit) => child.once('exit', (code, signal) => resolveExit(code ?? signal)));
  const failStart = async (error) => {
    if (child.exitCode === null) child.kill('SIGKILL');
    await exited;
    await dropDatabase(database).catch(() => undefined);
    rmSync(objects, { recursive: true, force: true });
    return error;
  };
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) {
      if (readFileSync(logFile, 'utf8').includes('ERR_MODULE_NOT_FOUND')) {
        throw await failStart(new DistMissingError(`gofer (${name}) could not load its modules (is dist/ being rebuilt?); see ${logFile}`));
      }
      throw await failStart(new Error(`gofer (${name}) exited with ${child.exitCode} while starting; see ${logFile}`));
    }
    if (Date.now() > deadline) throw await failStart(new Error(`gofer (${name}) did not become healthy within 60s; see ${logFile}`));
    try {
      if ((await fetch(`http://${httpAddr}/healthz`)).ok) break;
    } catch {
      // not listening yet
    }
    await sleep(100);
  }
  const anonymous = createGoferClient({ address: grpcAddr, timeoutMs: 60_000 });
  const { secret: token } = await anonymous.bootstrapToken({}).finally(() => anonymous.close());
  const client = createGoferClient({ address: grpcAddr, timeoutMs: 60_000, token });
  const pool = new pg.Pool({ connectionString: databaseUrl, max: 2 });
  let clusterId;

  const ask = (message, key) =>
    new Promise((resolveAnswer, reject) => {
      const timer = setTimeout(() => reject(new Error(`gofer (${name}) did not answer "${message}"`)), 10_000);
      const onMessage = (answer) => {
        if (!(key in answer)) return;
        clearTimeout(timer);
        child.off('message', onMessage);
        resolveAnswer(answer[key]);
      };
      child.on('message', onMessage);
      child.send(message);
    });

  return {
    name,
    pid: child.pid,
    /**
     * When each task job was added to the queue and when a worker took it (Redis server time, ms), read
     * from BullMQ's own event stream (capped at its last ~10 000 events).
     */
    async queueEvents() {
      const redis = new Redis(REDIS_URL);
      try {
        const entries = await redis.xrange(`${redisPrefix}:gofer-tasks:events`, '-', '+');
        const jobs = new Map();
        for (const [id, fields] of entries) {
          const f = {};
          for (let i = 0; i < fields.length; i += 2) f[fields[i]] = fields[i + 1];
          if (!f.jobId) continue;
          const at = Number(id.split('-')[0]);
          const job = jobs.get(f.jobId) ?? {};
          if (f.event === 'added' && job.added === undefined) job.added = at;
          if (f.event === 'active' && job.active === undefined) job.active = at;
          jobs.set(f.jobId, job);
        }
        return jobs;
      } finally {
        redis.disconnect();
      }
    },
    /** The instruments' readings since the last reset (support/instrument.mjs). */
    stats: () => ask('stats', 'stats'),
    resetStats: () => ask('reset', 'reset'),
    client,
    /** Gofer's gRPC address, for clients with other credentials (a trigger's key, say). */
    grpcAddr,
    logFile,
    /** Where the V8 CPU profile is written when the process exits (GOFER_BENCH_CPU_PROFILE=1). */
    profileFile,
    /** Runs SQL against the cluster's database. */
    query: async (sql, params = []) => (await pool.query(sql, params)).rows,
    async clusterId() {
      clusterId ??= (await pool.query('SELECT id FROM cluster')).rows[0].id;
      return clusterId;
    },
    /** Applies a pipeline config (JSON is YAML) in the default namespace. */
    async apply(config) {
      await client.applyPipelineConfig({
        namespaceId: 'default', config: Buffer.from(JSON.stringify(config)), format: 'CONFIG_FORMAT_UNSPECIFIED',
      });
    },
    async destroy() {
      client.close();
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      const timeout = setTimeout(() => child.kill('SIGKILL'), 15_000);
      await exited;
      clearTimeout(timeout);
      await pool.end();
      if (clusterId) await removeContainers({ 'gofer.cluster': clusterId });
      await dropDatabase(database);
      const redis = new Redis(REDIS_URL);
      let cursor = '0';
      do {
        const [nextCursor, keys] = await redis.scan(cursor, 'MATCH', `${redisPrefix}:*`, 'COUNT', 1000);
        cursor = nextCursor;
        if (keys.length > 0) await redis.del(...keys);
      } while (cursor !== '0');
      redis.disconnect();
      rmSync(objects, { recursive: true, force: true });
    },
  };
}

export async function dropDatabase(database) {
  const admin = new pg.Client({ connectionString: `${POSTGRES}/postgres` });
  await admin.connect();
  await admin.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
  await admin.end();
}

/** Force-removes every container carrying all of the labels. */
export async function removeContainers(labels) {
  const filters = { label: Object.entries(labels).map(([k, v]) => `${k}=${v}`) };
  for (const info of await docker.listContainers({ all: true, filters })) {
    await docker.getContainer(info.Id).remove({ force: true }).catch(() => undefined);
  }
}

/** Waits until no container carries the labels (Gofer removes finished containers asynchronously). */
export async function waitNoContainers(labels, timeoutMs = 60_000) {
  const filters = { label: Object.entries(labels).map(([k, v]) => `${k}=${v}`) };
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if ((await docker.listContainers({ all: true, filters })).length === 0) return;
    await sleep(100);
  }
  await removeContainers(labels);
}

/**
 * Starts a run and polls GetRun every `pollMs` until it is complete.
 * @returns the run, and the client-observed wall time from the StartRun call to the poll that saw it complete.
 */
export async function runAndWait(client, pipelineId, { pollMs = 20, timeoutMs = 300_000 } = {}) {
  const t0 = performance.now();
  const { run } = await client.startRun({ namespaceId: 'default', pipelineId, variables: {} });
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const { run: current } = await client.getRun({ namespaceId: 'default', pipelineId, runId: run.id });
    if (current.state === 'RUN_STATE_COMPLETE') return { run: current, wallMs: performance.now() - t0 };
    if (Date.now() > deadline) throw new Error(`run ${run.id} of ${pipelineId} did not complete within ${timeoutMs} ms`);
    await sleep(pollMs);
  }
}

/**
 * Task-run timestamps of runs, in ms since the epoch with Postgres's microsecond precision.
 * @returns {Promise<Array<{ runId: number, taskId: string, status: string, started: number, ended: number }>>}
 */
export async function taskTimes(cluster, pipelineId, runIds) {
  const rows = await cluster.query(
    `SELECT run_id, task_id, status, extract(epoch FROM started) * 1000 AS started, extract(epoch FROM ended) * 1000 AS ended
     FROM task_runs WHERE namespace_id = 'default' AND pipeline_id = $1 AND run_id = ANY($2::int[])`,
    [pipelineId, runIds],
  );
  return rows.map((r) => ({ runId: Number(r.run_id), taskId: r.task_id, status: r.status, started: Number(r.started), ended: Number(r.ended) }));
}

/** Run timestamps (created/started/ended) in ms since the epoch. */
export async function runTimes(cluster, pipelineId, runIds) {
  const rows = await cluster.query(
    `SELECT id, status, extract(epoch FROM created) * 1000 AS created, extract(epoch FROM started) * 1000 AS started,
            extract(epoch FROM ended) * 1000 AS ended
     FROM runs WHERE namespace_id = 'default' AND pipeline_id = $1 AND id = ANY($2::int[])`,
    [pipelineId, runIds],
  );
  return rows.map((r) => ({ id: Number(r.id), status: r.status, created: Number(r.created), started: Number(r.started), ended: Number(r.ended) }));
}

/**
 * Splits each dependency edge in three, using BullMQ's event times: parent ended → child job added
 * (rest of the completion transaction, commit, enqueue), added → active (queue pickup), active →
 * child started (claim statement issued). Missing events (trimmed stream) leave the edge out.
 */
export function edgeBreakdown(pipelineId, tasks, dependsOn, jobs) {
  const byKey = new Map(tasks.map((t) => [`${t.runId}.${t.taskId}`, t]));
  const jobOf = new Map();
  for (const [id, job] of jobs) {
    const [, pipeline, runId, taskId, attempt] = id.split('.');
    if (pipeline === pipelineId && attempt === '1') jobOf.set(`${runId}.${taskId}`, job);
  }
  const parts = { endedToAdded: [], addedToActive: [], activeToStarted: [] };
  for (const t of tasks) {
    const parents = dependsOn[t.taskId];
    if (!parents || parents.length === 0) continue;
    const job = jobOf.get(`${t.runId}.${t.taskId}`);
    if (!job || job.added === undefined || job.active === undefined) continue;
    const lastParentEnd = Math.max(...parents.map((p) => byKey.get(`${t.runId}.${p}`).ended));
    parts.endedToAdded.push(job.added - lastParentEnd);
    parts.addedToActive.push(job.active - job.added);
    parts.activeToStarted.push(t.started - job.active);
  }
  return parts;
}

/**
 * Dependency-complete → dependent-started latency of every task with parents: child.started minus the
 * latest parent.ended (the moment the last requirement was met).
 * @param tasks rows of {@link taskTimes}
 * @param dependsOn task id → parent ids
 */
export function edgeLatencies(tasks, dependsOn) {
  const byRun = new Map();
  for (const t of tasks) {
    if (!byRun.has(t.runId)) byRun.set(t.runId, new Map());
    byRun.get(t.runId).set(t.taskId, t);
  }
  const latencies = [];
  for (const rows of byRun.values()) {
    for (const [taskId, parents] of Object.entries(dependsOn)) {
      if (parents.length === 0) continue;
      const child = rows.get(taskId);
      const lastParentEnd = Math.max(...parents.map((p) => rows.get(p).ended));
      latencies.push(child.started - lastParentEnd);
    }
  }
  return latencies;
}
