import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createGoferClient, type GoferClient } from '@gofer/proto';
import { createTestDatabase } from './database.js';

export const ROOT = resolve(import.meta.dirname, '../..');
/** The encryption key test clusters seal secrets with (32 bytes, base64). */
export const TEST_ENCRYPTION_KEY = Buffer.alloc(32, 7).toString('base64');
export const GOFER_BIN = join(ROOT, 'apps/gofer/dist/main.js');

export async function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolvePort(address.port) : reject(new Error('no port'))));
    });
  });
}

/** One `gofer service start` child process. */
export interface GoferProcess {
  child: ChildProcess;
  /** The --roles it runs, e.g. `api,worker`. */
  roles: string;
  grpcAddr: string;
  httpAddr: string;
  workerId: string;
  output: () => string;
  /** Sends a signal and waits for the process to exit. */
  kill(signal?: NodeJS.Signals): Promise<number | null>;
}

/**
 * A Gofer cluster for one test file: its own database, Redis key prefix, object store directory and
 * Docker label (via its cluster id), so test files never see each other's work.
 */
export class TestCluster {
  readonly processes: GoferProcess[] = [];
  private clients: GoferClient[] = [];
  /** The cluster's bootstrap (management) token, taken when its first process started. */
  token = '';

  private constructor(
    readonly name: string,
    readonly databaseUrl: string,
    readonly redisPrefix: string,
    readonly objectStore: string,
    private readonly dropDatabase: () => Promise<void>,
    private readonly extraEnv: Record<string, string>,
    /** The Redis the cluster uses (and whose keys under its prefix `destroy()` deletes). */
    readonly redisUrl: string,
  ) {}

  /**
   * `services` points the cluster at a Postgres server and a Redis of its own (the chaos tests
   * restart theirs); by default it uses the machine's shared ones, isolated by database and prefix.
   */
  static async create(
    name: string,
    env: Record<string, string> = {},
    services: { postgres?: string; redisUrl?: string } = {},
  ): Promise<TestCluster> {
    const db = await createTestDatabase(name, services.postgres);
    const prefix = `goferTest_${name.replace(/[^A-Za-z0-9]/g, '')}_${randomBytes(3).toString('hex')}`;
    const objects = mkdtempSync(join(tmpdir(), `gofer-${name}-`));
    return new TestCluster(name, db.url, prefix, `fs://${objects}`, db.drop, env, services.redisUrl ?? 'redis://127.0.0.1:6379');
  }

  env(overrides: Record<string, string> = {}): Record<string, string> {
    return {
      GOFER_DATABASE_URL: this.databaseUrl,
      GOFER_REDIS_URL: this.redisUrl,
      GOFER_REDIS_PREFIX: this.redisPrefix,
      GOFER_OBJECT_STORE: this.objectStore,
      GOFER_DOCKER_NETWORK: 'host',
      GOFER_STOP_GRACE: '2s',
      GOFER_RECONCILE_INTERVAL: '1s',
      GOFER_WORKER_DEAD_AFTER: '4s',
      GOFER_LOG_LEVEL: 'info',
      GOFER_ENCRYPTION_KEY: TEST_ENCRYPTION_KEY,
      // Built-in triggers and notifiers start containers: only the tests of them opt in.
      GOFER_BUILTIN_TRIGGERS: 'none',
      GOFER_BUILTIN_NOTIFIERS: 'none',
      GOFER_TRIGGER_CHECK_INTERVAL: '500ms',
      ...this.extraEnv,
      ...overrides,
    };
  }

  /** Starts a process and waits until it serves (its HTTP /healthz answers). */
  async start(roles = 'api,worker', overrides: Record<string, string> = {}): Promise<GoferProcess> {
    // Overrides may fix the addresses, e.g. to start a killed process again where it was (its
    // trigger containers keep the GOFER_HOST they were started with, as they would across a reboot).
    const grpcAddr = overrides.GOFER_GRPC_ADDR ?? `127.0.0.1:${await freePort()}`;
    const httpAddr = overrides.GOFER_HTTP_ADDR ?? `127.0.0.1:${await freePort()}`;
    const workerId = `w${this.processes.length}-${randomBytes(3).toString('hex')}`;
    // A worker-only process serves no gRPC: containers it starts (tasks, triggers) reach the API of
    // the cluster's first API process, as GOFER_ADVERTISE_ADDR points them to a cluster's entry point.
    const api = roles.includes('api') ? undefined : this.processes.find((p) => p.roles.includes('api'));
    const env = this.env({
      GOFER_GRPC_ADDR: grpcAddr, GOFER_HTTP_ADDR: httpAddr, GOFER_WORKER_ID: workerId,
      ...(api ? { GOFER_ADVERTISE_ADDR: api.grpcAddr } : {}),
      ...overrides,
    });
    const child = spawn(process.execPath, [GOFER_BIN, 'service', 'start', '--roles', roles], {
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/root', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const exited = new Promise<number | null>((resolveExit) => child.once('exit', (code) => resolveExit(code)));
    const processHandle: GoferProcess = {
      child,
      roles,
      grpcAddr,
      httpAddr,
      workerId,
      output: () => output,
      kill: async (signal = 'SIGTERM') => {
        if (child.exitCode === null && child.signalCode === null) child.kill(signal);
        return exited;
      },
    };
    this.processes.push(processHandle);
    const deadline = Date.now() + 60_000;
    while (Date.now() < deadline) {
      if (child.exitCode !== null) throw new Error(`gofer exited with ${child.exitCode} while starting:\n${output}`);
      try {
        const response = await fetch(`http://${httpAddr}/healthz`);
        if (response.ok) {
          if (!this.token && roles.includes('api')) await this.bootstrap(processHandle);
          return processHandle;
        }
      } catch {
        // not listening yet
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`gofer did not become healthy within 60s:\n${output}`);
  }

  /** Takes the cluster's one bootstrap token (later processes share the database, so they share it too). */
  private async bootstrap(process: GoferProcess): Promise<void> {
    const anonymous = createGoferClient({ address: process.grpcAddr, timeoutMs: 30_000 });
    try {
      this.token = (await anonymous.bootstrapToken({})).secret;
    } finally {
      anonymous.close();
    }
  }

  /** A client of a live process, with the management token unless `token` says otherwise ('' = none). */
  client(
    process: GoferProcess = this.processes.find((p) => p.child.exitCode === null && p.child.signalCode === null)!,
    token: string = this.token,
  ): GoferClient {
    const client = createGoferClient({ address: process.grpcAddr, timeoutMs: 30_000, token: token || undefined });
    this.clients.push(client);
    return client;
  }

  async destroy(): Promise<void> {
    for (const client of this.clients) client.close();
    await Promise.all(this.processes.map((p) => p.kill('SIGKILL')));
    await removeContainers({ 'gofer.cluster': await this.clusterId().catch(() => 'none') });
    await this.dropDatabase();
    const { Redis } = await import('ioredis');
    const redis = new Redis(this.redisUrl);
    const keys = await redis.keys(`${this.redisPrefix}:*`);
    if (keys.length > 0) await redis.del(...keys);
    redis.disconnect();
  }

  async clusterId(): Promise<string> {
    const { default: pg } = await import('pg');
    const client = new pg.Client({ connectionString: this.databaseUrl });
    await client.connect();
    try {
      return (await client.query('SELECT id FROM cluster')).rows[0].id as string;
    } finally {
      await client.end();
    }
  }

  async query<T = Record<string, unknown>>(sql: string, params: unknown[] = []): Promise<T[]> {
    const { default: pg } = await import('pg');
    const client = new pg.Client({ connectionString: this.databaseUrl });
    await client.connect();
    try {
      return (await client.query(sql, params)).rows as T[];
    } finally {
      await client.end();
    }
  }
}

/** Force-removes every container carrying the labels (test clean-up). */
export async function removeContainers(labels: Record<string, string>): Promise<void> {
  const { default: Docker } = await import('dockerode');
  const docker = new Docker({ socketPath: '/var/run/docker.sock' });
  const filters = { label: Object.entries(labels).map(([k, v]) => `${k}=${v}`) };
  for (const info of await docker.listContainers({ all: true, filters })) {
    await docker.getContainer(info.Id).remove({ force: true }).catch(() => undefined);
  }
}

/** Polls until `check` returns a value (not undefined), or fails after `timeoutMs` with `what`. */
export async function waitFor<T>(what: string, check: () => Promise<T | undefined>, timeoutMs = 90_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (error) {
      last = error;
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
}
