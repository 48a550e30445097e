import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { Redis } from 'ioredis';
import { freePort, waitFor } from './gofer-process.js';

const run = promisify(execFile);

/**
 * A Postgres server of one test file's own (a Debian `pg_createcluster` cluster on a free port, trust
 * auth on loopback), for tests that restart or stop Postgres: the machine's shared server on 5432 serves
 * other test files meanwhile and must not be touched. Runs as root in CI; the pg_* wrappers switch to
 * the postgres user. `drop()` stops and deletes it.
 */
export class DedicatedPostgres {
  private constructor(
    readonly version: string,
    readonly name: string,
    readonly port: number,
  ) {}

  /** `postgres://postgres@127.0.0.1:<port>`: a server URL without a database, as TestCluster takes it. */
  get url(): string {
    return `postgres://postgres@127.0.0.1:${this.port}`;
  }

  static async create(label: string): Promise<DedicatedPostgres> {
    // The newest installed major version (CI installs one: .ci/run's `postgresql`).
    const versions = existsSync('/etc/postgresql') ? readdirSync('/etc/postgresql') : [];
    const version = versions.sort((a, b) => Number(b) - Number(a))[0];
    if (!version) throw new Error('no Postgres server installed (/etc/postgresql is empty or missing): apt-get install postgresql (it brings pg_createcluster)');
    const name = `chaos_${label.replace(/[^a-z0-9]/g, '')}_${randomBytes(3).toString('hex')}`;
    const port = await freePort();
    // fsync off: nothing here survives a machine crash anyway, and the tests' restarts are clean shutdowns.
    await run('pg_createcluster', [version, name, '-p', String(port), '-o', 'fsync=off', '--', '--auth=trust']);
    const server = new DedicatedPostgres(version, name, port);
    try {
      await server.ctl('start');
    } catch (error) {
      await server.drop();
      throw error;
    }
    return server;
  }

  /** `pg_ctlcluster <version> <name> start|stop|restart` (fast shutdown: open connections are cut). */
  async ctl(action: 'start' | 'stop' | 'restart'): Promise<void> {
    await run('pg_ctlcluster', ['--skip-systemctl-redirect', this.version, this.name, action]);
  }

  /** Runs one statement against a database of this server (a fresh connection each time, so it works across restarts). */
  async query<T = Record<string, unknown>>(database: string, sql: string, params: unknown[] = []): Promise<T[]> {
    const client = new pg.Client({ connectionString: `${this.url}/${database}`, connectionTimeoutMillis: 5000 });
    client.on('error', () => undefined);
    await client.connect();
    try {
      return (await client.query(sql, params)).rows as T[];
    } finally {
      await client.end().catch(() => undefined);
    }
  }

  /** Client backends connected to `database` (what the cluster's processes hold open). */
  async connections(database: string): Promise<number> {
    const [row] = await this.query<{ n: number }>(
      'postgres',
      `SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = $1 AND backend_type = 'client backend' AND pid <> pg_backend_pid()`,
      [database],
    );
    return row.n;
  }

  async drop(): Promise<void> {
    await run('pg_dropcluster', ['--stop', this.version, this.name]).catch((error: Error) => {
      console.warn(`could not drop Postgres cluster ${this.version}/${this.name}: ${error.message}`);
    });
  }
}

/**
 * A redis-server of one test file's own on a free port, configured as production runs it (AOF on,
 * `noeviction`), so "restart Redis" keeps the queue as it would there. Restartable; `stop()` ends it
 * and deletes its files.
 */
export class DedicatedRedis {
  private child: ChildProcess | undefined;
  private exited: Promise<void> = Promise.resolve();

  private constructor(
    readonly port: number,
    private readonly dir: string,
  ) {}

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  static async create(): Promise<DedicatedRedis> {
    const redis = new DedicatedRedis(await freePort(), mkdtempSync(join(tmpdir(), 'gofer-chaos-redis-')));
    await redis.start();
    return redis;
  }

  /** Starts redis-server on its port and directory (loading its AOF) and waits until it answers. */
  async start(): Promise<void> {
    const child = spawn('redis-server', [
      '--port', String(this.port), '--bind', '127.0.0.1', '--dir', this.dir,
      '--appendonly', 'yes', '--save', '', '--maxmemory-policy', 'noeviction',
    ], { stdio: 'ignore' });
    this.child = child;
    this.exited = new Promise((resolve) => child.once('exit', () => resolve()));
    await waitFor('the dedicated Redis to answer', async () => ((await this.command('PING')) === 'PONG' ? true : undefined), 20_000);
  }

  /** `SHUTDOWN` (AOF flushed, as a restart of the service does) and waits for the process to end. */
  async shutdown(): Promise<void> {
    await this.command('SHUTDOWN').catch(() => undefined); // the connection closes without a reply
    await this.exited;
  }

  async restart(): Promise<void> {
    await this.shutdown();
    await this.start();
  }

  /** One command on a fresh connection that does not retry (so it fails fast while Redis is down). */
  async command(...args: [string, ...(string | number)[]]): Promise<unknown> {
    const redis = new Redis(this.url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, connectTimeout: 2000 });
    redis.on('error', () => undefined);
    try {
      await redis.connect();
      return await redis.call(...args);
    } finally {
      redis.disconnect();
    }
  }

  /** Connected clients (the one asking excluded). */
  async clients(): Promise<number> {
    const list = String(await this.command('CLIENT', 'LIST'));
    return list.split('\n').filter((line) => line.trim()).length - 1;
  }

  async stop(): Promise<void> {
    if (this.child && this.child.exitCode === null && this.child.signalCode === null) {
      this.child.kill('SIGKILL');
      await this.exited;
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}
