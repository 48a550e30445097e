// gofer-test/postgres:15 and gofer-test/redis:7 (scripts/test-images.mjs) stand in for the official postgres
// and redis images that `gofer service start` runs when no Postgres or Redis is configured; this checks
// they behave like those for what Gofer relies on: first-start initialisation from the environment, data
// kept on a named volume across containers, extra server arguments, a non-root server.
// The engine has no bridge network, so containers use the host's and listen on 127.0.0.1 at a free port.
// Expects `node scripts/test-images.mjs` to have run (the suite's `pretest` does).
import { execFile, type ExecFileException } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort, waitFor } from '../support/gofer-process.js';

const POSTGRES_IMAGE = 'gofer-test/postgres:15';
const REDIS_IMAGE = 'gofer-test/redis:7';

const id = randomBytes(4).toString('hex');
const label = `gofer-test.dev-service-images=${id}`;
const volumes: string[] = [];

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the docker CLI; resolves with the exit code instead of throwing, so tests can assert on it. */
async function docker(args: string[]): Promise<Result> {
  try {
    const { stdout, stderr } = await promisify(execFile)('docker', args, { timeout: 60_000 });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as ExecFileException & { stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : 1, stdout: e.stdout ?? '', stderr: e.stderr ?? e.message };
  }
}

async function dockerOk(args: string[]): Promise<string> {
  const result = await docker(args);
  if (result.code !== 0) throw new Error(`docker ${args.join(' ')} exited ${result.code}:\n${result.stdout}\n${result.stderr}`);
  return result.stdout.trim();
}

/** A named volume, unique to this run and removed in afterAll. */
function volume(name: string): string {
  const full = `gofer-test-${name}-${id}`;
  volumes.push(full);
  return full;
}

/** Starts a detached container on the host network; the label lets afterAll remove it and its volumes. */
async function start(name: string, args: string[]): Promise<string> {
  const container = `gofer-test-${name}-${id}`;
  await dockerOk(['run', '-d', '--name', container, '--label', label, '--network', 'host', ...args]);
  return container;
}

async function remove(container: string): Promise<void> {
  await dockerOk(['rm', '-f', '-v', container]);
}

/** The user id the container's main process (the server, once the entry point has exec'd it) runs as. */
async function serverUid(container: string): Promise<number> {
  const status = await dockerOk(['exec', container, 'cat', '/proc/1/status']);
  return Number(/^Uid:\s+(\d+)/m.exec(status)![1]);
}

/** The container's output; the servers log to stderr, the entry points partly to stdout. */
async function logs(container: string): Promise<string> {
  const { stdout, stderr } = await docker(['logs', container]);
  return `${stdout}${stderr}`;
}

afterAll(async () => {
  const containers = (await dockerOk(['ps', '-aq', '--filter', `label=${label}`])).split('\n').filter(Boolean);
  // -v: the official images declare a VOLUME, so a container without -v mounts leaves an anonymous one.
  if (containers.length > 0) await docker(['rm', '-f', '-v', ...containers]);
  for (const name of volumes) await docker(['volume', 'rm', name]);
});

describe(POSTGRES_IMAGE, () => {
  /** Connects once the server answers; the entry point's initdb and temporary server come first. */
  async function connect(port: number, database: string, user = 'postgres', password?: string): Promise<pg.Client> {
    return waitFor(`postgres on port ${port}`, async () => {
      const client = new pg.Client({ host: '127.0.0.1', port, database, user, password });
      try {
        await client.connect();
        return client;
      } catch (error) {
        await client.end().catch(() => undefined);
        throw error;
      }
    }, 60_000);
  }

  it('initialises POSTGRES_DB on first start and reuses the volume as is afterwards', async () => {
    const port = await freePort();
    const data = volume('pgdata');
    const serverArgs = ['-c', 'listen_addresses=127.0.0.1', '-p', String(port)];
    const first = await start('pg1', [
      '-v', `${data}:/var/lib/postgresql/data`, '-e', 'POSTGRES_DB=gofer_dev', '-e', 'POSTGRES_HOST_AUTH_METHOD=trust',
      POSTGRES_IMAGE, ...serverArgs,
    ]);
    let client = await connect(port, 'gofer_dev');
    let systemId: string;
    try {
      const { rows: [server] } = await client.query<{ db: string; user: string; id: string }>(
        'SELECT current_database() AS db, current_user AS user, system_identifier::text AS id FROM pg_control_system()',
      );
      expect(server).toMatchObject({ db: 'gofer_dev', user: 'postgres' });
      systemId = server!.id;
      // No password, as POSTGRES_HOST_AUTH_METHOD=trust allows; loopback is trusted by initdb's own rules,
      // so check the rule the entry point adds for every other host.
      const { rows: hba } = await client.query("SELECT auth_method FROM pg_hba_file_rules WHERE type = 'host' AND address = 'all'");
      expect(hba).toEqual([{ auth_method: 'trust' }]);
      await client.query('CREATE TABLE kept (note text)');
      await client.query("INSERT INTO kept VALUES ('survives the container')");
    } finally {
      await client.end();
    }
    expect(await serverUid(first)).toBe(999);
    const ready = await docker(['exec', first, 'pg_isready', '-h', '127.0.0.1', '-p', String(port)]);
    expect(ready).toMatchObject({ code: 0, stdout: expect.stringContaining('accepting connections') });
    expect(await logs(first)).toContain('PostgreSQL init process complete');

    await dockerOk(['stop', first]);
    await remove(first);
    // Different settings and no password: an initialised data directory ignores them (initialising again
    // without POSTGRES_PASSWORD or trust would make the entry point exit).
    const second = await start('pg2', ['-v', `${data}:/var/lib/postgresql/data`, '-e', 'POSTGRES_DB=other', POSTGRES_IMAGE, ...serverArgs]);
    client = await connect(port, 'gofer_dev');
    try {
      expect((await client.query('SELECT note FROM kept')).rows).toEqual([{ note: 'survives the container' }]);
      const { rows: [server] } = await client.query<{ id: string }>('SELECT system_identifier::text AS id FROM pg_control_system()');
      expect(server!.id).toBe(systemId);
      expect((await client.query("SELECT 1 FROM pg_database WHERE datname = 'other'")).rowCount).toBe(0);
    } finally {
      await client.end();
    }
    const secondLogs = await logs(second);
    expect(secondLogs).toContain('Skipping initialization');
    expect(secondLogs).not.toContain('init process complete');
    // STOPSIGNAL SIGINT, as in the official image: a fast shutdown, not SIGTERM's wait for clients.
    await dockerOk(['stop', second]);
    expect(await logs(second)).toContain('received fast shutdown request');
  });

  it('sets POSTGRES_USER and POSTGRES_PASSWORD up, and refuses to initialise without a password or trust', async () => {
    const refused = await docker(['run', '--rm', '--label', label, '--network', 'host', POSTGRES_IMAGE, '-c', 'listen_addresses=127.0.0.1', '-p', String(await freePort())]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('superuser password is not specified');

    const port = await freePort();
    await start('pg-password', [
      '-v', `${volume('pgdata-password')}:/var/lib/postgresql/data`, '-e', 'POSTGRES_USER=gofer', '-e', 'POSTGRES_PASSWORD=s3cret',
      POSTGRES_IMAGE, '-c', 'listen_addresses=127.0.0.1', '-c', `port=${port}`,
    ]);
    // POSTGRES_DB defaults to the user's name.
    const client = await connect(port, 'gofer', 'gofer', 's3cret');
    try {
      const { rows: [role] } = await client.query<{ super: boolean; scram: boolean }>(
        "SELECT rolsuper AS super, rolpassword LIKE 'SCRAM-SHA-256$%' AS scram FROM pg_authid WHERE rolname = current_user",
      );
      expect(role).toEqual({ super: true, scram: true });
      // Other hosts must use the password: the method defaults to the server's password_encryption.
      const { rows: hba } = await client.query("SELECT auth_method FROM pg_hba_file_rules WHERE type = 'host' AND address = 'all'");
      expect(hba).toEqual([{ auth_method: 'scram-sha-256' }]);
    } finally {
      await client.end();
    }
  });
});

describe(REDIS_IMAGE, () => {
  /** Connects once the server answers. */
  async function connect(port: number): Promise<Redis> {
    return waitFor(`redis on port ${port}`, async () => {
      const redis = new Redis({ host: '127.0.0.1', port, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
      // Refused attempts reject connect() below; without a listener ioredis also reports them as unhandled.
      redis.on('error', () => undefined);
      try {
        await redis.connect();
        return redis;
      } catch (error) {
        redis.disconnect();
        throw error;
      }
    }, 30_000);
  }

  it("runs Gofer's redis-server arguments as uid 999 and keeps the AOF on the /data volume", async () => {
    const port = await freePort();
    const data = volume('redis');
    const command = ['redis-server', '--appendonly', 'yes', '--maxmemory-policy', 'noeviction', '--port', String(port), '--bind', '127.0.0.1'];
    const first = await start('redis1', ['-v', `${data}:/data`, REDIS_IMAGE, ...command]);
    let redis = await connect(port);
    try {
      await redis.set('gofer:kept', 'survives the container');
      expect(await redis.config('GET', 'maxmemory-policy')).toEqual(['maxmemory-policy', 'noeviction']);
      expect(await redis.config('GET', 'appendonly')).toEqual(['appendonly', 'yes']);
      // The official entry point turns protected mode off so that other hosts can connect.
      expect(await redis.config('GET', 'protected-mode')).toEqual(['protected-mode', 'no']);
    } finally {
      redis.disconnect();
    }
    expect(await serverUid(first)).toBe(999);
    // The working directory is /data, so the AOF lands on the volume.
    await waitFor('the key in the AOF', async () => {
      const aof = await docker(['exec', first, 'sh', '-c', 'cat appendonlydir/*.incr.aof']);
      return aof.stdout.includes('gofer:kept') ? true : undefined;
    }, 10_000);

    // Killed, not stopped: no snapshot on shutdown, so only the AOF can bring the key back.
    await dockerOk(['kill', first]);
    await remove(first);
    await start('redis2', ['-v', `${data}:/data`, REDIS_IMAGE, ...command.slice(1)]);
    redis = await connect(port);
    try {
      expect(await redis.get('gofer:kept')).toBe('survives the container');
    } finally {
      redis.disconnect();
    }
  });
});
