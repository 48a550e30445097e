// A Gofer cluster of several processes for the scale-out benchmark: API-only and worker-only processes
// (each `node bench/support/gofer-host.mjs noop api|worker`, the real service from dist/ with the no-op
// scheduler) sharing one fresh database, Redis key prefix and object store directory, all on 127.0.0.1.
// `destroy()` stops every process and removes all of it.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, mkdirSync, mkdtempSync, openSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import pg from 'pg';
import { createGoferClient } from '@gofer/proto';
import { dropDatabase, freePort, RESULTS_DIR, ROOT } from './cluster.mjs';

const HOST_SCRIPT = join(import.meta.dirname, 'gofer-host.mjs');
const POSTGRES = process.env.GOFER_BENCH_POSTGRES ?? 'postgres://postgres@127.0.0.1:5432';
const REDIS_URL = 'redis://127.0.0.1:6379';

/**
 * Starts `apis` API-only and `workers` worker-only processes. The first API process starts alone (it
 * creates the database and runs the migrations), the others together once it serves.
 * @param {{ apis: number, workers: number, env?: Record<string, string> }} options
 */
export async function startScaleCluster({ apis, workers, env = {} }) {
  const suffix = randomBytes(4).toString('hex');
  const database = `gofer_bench_scale_${suffix}`;
  const databaseUrl = `${POSTGRES}/${database}`;
  const redisPrefix = `goferBench_scale_${suffix}`;
  const objects = mkdtempSync(join(tmpdir(), 'gofer-bench-scale-'));
  mkdirSync(RESULTS_DIR, { recursive: true });
  /** @type {Array<{ kind: 'api' | 'worker', index: number, pid: number, grpcAddr: string, logFile: string, child: import('node:child_process').ChildProcess, exited: Promise<unknown> }>} */
  const processes = [];
  const clients = [];
  let pool;
  let clusterGrpcAddr;

  async function startProcess(kind, index) {
    const grpcAddr = `127.0.0.1:${await freePort()}`;
    const httpAddr = `127.0.0.1:${await freePort()}`;
    const logFile = join(RESULTS_DIR, `gofer-scale-${kind}${index}.log`);
    const logFd = openSync(logFile, 'w');
    const child = spawn(process.execPath, [HOST_SCRIPT, 'noop', kind], {
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
        // Containers would reach the cluster through its first API process (none start here).
        ...(clusterGrpcAddr ? { GOFER_ADVERTISE_ADDR: clusterGrpcAddr } : {}),
        GOFER_WORKER_ID: `bench-scale-${kind}${index}-${suffix}`,
        GOFER_LOG_LEVEL: 'info',
        GOFER_BUILTIN_TRIGGERS: 'none',
        GOFER_BUILTIN_NOTIFIERS: 'none',
        ...env,
      },
      stdio: ['ignore', logFd, logFd, 'ipc'],
    });
    closeSync(logFd);
    const exited = new Promise((resolveExit) => child.once('exit', (code, signal) => resolveExit(code ?? signal)));
    const handle = { kind, index, pid: child.pid, grpcAddr, logFile, child, exited };
    processes.push(handle);
    const deadline = Date.now() + 60_000;
    for (;;) {
      if (child.exitCode !== null) throw new Error(`gofer (${kind} ${index}) exited with ${child.exitCode} while starting; see ${logFile}`);
      if (Date.now() > deadline) throw new Error(`gofer (${kind} ${index}) did not become healthy within 60s; see ${logFile}`);
      try {
        if ((await fetch(`http://${httpAddr}/healthz`)).ok) return handle;
      } catch {
        // not listening yet
      }
      await sleep(100);
    }
  }

  const ask = (handle, message, key) =>
    new Promise((resolveAnswer, reject) => {
      const timer = setTimeout(() => reject(new Error(`gofer (${handle.kind} ${handle.index}) did not answer "${message}"`)), 10_000);
      const onMessage = (answer) => {
        if (!(key in answer)) return;
        clearTimeout(timer);
        handle.child.off('message', onMessage);
        resolveAnswer(answer[key]);
      };
      handle.child.on('message', onMessage);
      handle.child.send(message);
    });

  async function destroy() {
    for (const client of clients) client.close();
    for (const p of processes) if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGTERM');
    const timeout = setTimeout(() => processes.forEach((p) => p.child.kill('SIGKILL')), 15_000);
    await Promise.all(processes.map((p) => p.exited));
    clearTimeout(timeout);
    await pool?.end();
    await dropDatabase(database).catch(() => undefined);
    const redis = new Redis(REDIS_URL);
    let cursor = '0';
    do {
      const [nextCursor, keys] = await redis.scan(cursor, 'MATCH', `${redisPrefix}:*`, 'COUNT', 1000);
      cursor = nextCursor;
      if (keys.length > 0) await redis.del(...keys);
    } while (cursor !== '0');
    redis.disconnect();
    rmSync(objects, { recursive: true, force: true });
  }

  try {
    const first = await startProcess('api', 0);
    clusterGrpcAddr = first.grpcAddr;
    await Promise.all([
      ...Array.from({ length: apis - 1 }, (_, i) => startProcess('api', i + 1)),
      ...Array.from({ length: workers }, (_, i) => startProcess('worker', i)),
    ]);
    const anonymous = createGoferClient({ address: first.grpcAddr, timeoutMs: 60_000 });
    const { secret: token } = await anonymous.bootstrapToken({}).finally(() => anonymous.close());
    for (const p of processes.filter((x) => x.kind === 'api')) {
      clients.push(createGoferClient({ address: p.grpcAddr, timeoutMs: 60_000, token }));
    }
    pool = new pg.Pool({ connectionString: databaseUrl, max: 2 });
  } catch (error) {
    await destroy();
    throw error;
  }

  return {
    database,
    processes,
    /** One gRPC client per API process, in start order (round-robin over them). */
    clients,
    /** The instruments' readings of every process since its last reset, with its kind and pid. */
    stats: () => Promise.all(processes.map(async (p) => ({ kind: p.kind, pid: p.pid, stats: await ask(p, 'stats', 'stats') }))),
    resetStats: () => Promise.all(processes.map((p) => ask(p, 'reset', 'reset'))),
    /** Runs SQL against the cluster's database. */
    query: async (sql, params = []) => (await pool.query(sql, params)).rows,
    /** Applies a pipeline config (JSON is YAML) in the default namespace. */
    async apply(config) {
      await clients[0].applyPipelineConfig({
        namespaceId: 'default', config: Buffer.from(JSON.stringify(config)), format: 'CONFIG_FORMAT_UNSPECIFIED',
      });
    },
    destroy,
  };
}
