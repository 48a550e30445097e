// Single-machine mode on a machine with nothing configured (README "The two commands"): `gofer service
// start` brings its own Postgres and Redis up as Docker containers, reuses them on the next start, keeps
// their data, starts nothing when something already answers, and says in one line what it needs when
// Docker is missing. No registry is reachable here, so the images are this machine's own Postgres and
// Redis packaged like the official ones (scripts/test-images.mjs), named through GOFER_DEV_*_IMAGE; the
// ports are free ones, the containers and volumes carry this file's own name.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Docker from 'dockerode';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createGoferClient, type GoferClient } from '@gofer/proto';
import { freePort, GOFER_BIN, TEST_ENCRYPTION_KEY, waitFor } from '../support/gofer-process.js';
import { apply, startRun, waitForRun } from '../support/runs.js';

const docker = new Docker({ socketPath: '/var/run/docker.sock' });
const NAME = `gofer-test-dev-${randomBytes(3).toString('hex')}`;
const OTHER_NAME = `${NAME}-other`;
/** "The user's own" Postgres of one test: a container not named like Gofer's. */
const USERS_POSTGRES = `gofer-test-users-pg-${randomBytes(3).toString('hex')}`;

interface Started {
  child: ChildProcess;
  stderr: () => string;
  grpcAddr: string;
  stop: () => Promise<number | null>;
}

describe('gofer service start with nothing configured', () => {
  let base: Record<string, string>;
  let ports: { postgres: number; redis: number };
  let token = '';
  const clients: GoferClient[] = [];

  beforeAll(async () => {
    ports = { postgres: await freePort(), redis: await freePort() };
    base = {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '/root',
      GOFER_DEV_SERVICES_NAME: NAME,
      GOFER_DEV_POSTGRES_IMAGE: 'gofer-test/postgres:15',
      GOFER_DEV_REDIS_IMAGE: 'gofer-test/redis:7',
      GOFER_DEV_POSTGRES_PORT: String(ports.postgres),
      GOFER_DEV_REDIS_PORT: String(ports.redis),
      // This engine has no bridge network (docs/environment.md): containers share the host's.
      GOFER_DOCKER_NETWORK: 'host',
      GOFER_OBJECT_STORE: `fs://${mkdtempSync(join(tmpdir(), 'gofer-dev-services-'))}`,
      GOFER_ENCRYPTION_KEY: TEST_ENCRYPTION_KEY,
      GOFER_BUILTIN_TRIGGERS: 'none',
      GOFER_BUILTIN_NOTIFIERS: 'none',
      GOFER_STOP_GRACE: '2s',
    };
  });

  afterAll(async () => {
    for (const client of clients) client.close();
    await docker.getContainer(USERS_POSTGRES).remove({ force: true }).catch(() => undefined);
    for (const name of [NAME, OTHER_NAME]) {
      for (const kind of ['postgres', 'redis']) {
        await docker.getContainer(`${name}-${kind}`).remove({ force: true }).catch(() => undefined);
        await docker.getVolume(`${name}-${kind}`).remove().catch(() => undefined);
      }
    }
  });

  /** `gofer service start` with `env` over the base, waiting until it serves. */
  async function start(env: Record<string, string> = {}, args: string[] = []): Promise<Started> {
    const grpcAddr = `127.0.0.1:${await freePort()}`;
    const httpAddr = `127.0.0.1:${await freePort()}`;
    const child = spawn(process.execPath, [GOFER_BIN, 'service', 'start', ...args], {
      env: { ...base, GOFER_GRPC_ADDR: grpcAddr, GOFER_HTTP_ADDR: httpAddr, ...env },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    await waitFor('gofer to serve', async () => {
      if (child.exitCode !== null) throw new Error(`gofer exited with ${child.exitCode}:\n${stderr}`);
      return (await fetch(`http://${httpAddr}/healthz`).then((r) => r.ok, () => false)) || undefined;
    }, 150_000);
    return {
      child,
      stderr: () => stderr,
      grpcAddr,
      stop: async () => {
        child.kill('SIGTERM');
        return exited;
      },
    };
  }

  function client(gofer: Started): GoferClient {
    const made = createGoferClient({ address: gofer.grpcAddr, timeoutMs: 30_000, token });
    clients.push(made);
    return made;
  }

  /** `gofer <args>` to completion. */
  function cli(args: string[], env: Record<string, string> = {}) {
    const result = spawnSync(process.execPath, [GOFER_BIN, ...args], { env: { ...base, ...env }, encoding: 'utf8', timeout: 60_000 });
    return { code: result.status, stdout: result.stdout, stderr: result.stderr };
  }

  async function containerIds(name: string): Promise<Record<string, string>> {
    const listed = await docker.listContainers({ all: true, filters: { name: [`^/${name}-`] } });
    return Object.fromEntries(listed.map((c) => [c.Names[0]!.slice(1), `${c.Id} ${c.State}`]));
  }

  it('starts Postgres and Redis in Docker, saying so once each, and runs a pipeline on them', async () => {
    const gofer = await start();
    const lines = gofer.stderr().split('\n').filter((line) => line.startsWith('gofer: '));
    expect(lines).toEqual([
      `gofer: started Postgres (gofer-test/postgres:15) as container ${NAME}-postgres on 127.0.0.1:${ports.postgres}, data in volume ${NAME}-postgres: it keeps running after Gofer stops; \`gofer service dev rm\` removes it`,
      `gofer: started Redis (gofer-test/redis:7) as container ${NAME}-redis on 127.0.0.1:${ports.redis}, data in volume ${NAME}-redis: it keeps running after Gofer stops; \`gofer service dev rm\` removes it`,
    ]);
    const anonymous = createGoferClient({ address: gofer.grpcAddr, timeoutMs: 30_000 });
    token = (await anonymous.bootstrapToken({})).secret;
    anonymous.close();
    const gofer1 = client(gofer);
    await apply(gofer1, 'id: on-dev-services\ntasks:\n  - id: greet\n    image: busybox:latest\n    script: echo hello\n');
    await gofer1.putPipelineSecret({ namespaceId: 'default', pipelineId: 'on-dev-services', key: 'kept', value: 'across restarts' });
    const run = await startRun(gofer1, 'on-dev-services');
    expect((await waitForRun(gofer1, 'on-dev-services', run.id)).run.status).toBe('RUN_STATUS_SUCCESSFUL');

    // Gofer's Redis has a password of its own (kept in its container's labels): not open to anyone else.
    const { Redis } = await import('ioredis');
    const stranger = new Redis(`redis://127.0.0.1:${ports.redis}`, { lazyConnect: true, enableReadyCheck: false, maxRetriesPerRequest: 0, retryStrategy: () => null });
    stranger.on('error', () => undefined);
    await stranger.connect();
    await expect(stranger.ping()).rejects.toThrow(/NOAUTH/);
    stranger.disconnect();

    expect(await gofer.stop()).toBe(0);
    // Ctrl-C (SIGTERM here) leaves them running, for a fast next start.
    expect(Object.values(await containerIds(NAME)).map((v) => v.split(' ')[1])).toEqual(['running', 'running']);
  });

  it('reuses the running containers on the next start (nothing new), with the data kept', async () => {
    const before = await containerIds(NAME);
    const gofer = await start();
    expect(gofer.stderr()).toContain(`gofer: using Postgres in container ${NAME}-postgres on 127.0.0.1:${ports.postgres}, started earlier\n`);
    expect(gofer.stderr()).toContain(`gofer: using Redis in container ${NAME}-redis on 127.0.0.1:${ports.redis}, started earlier\n`);
    expect(await containerIds(NAME)).toEqual(before);
    const again = client(gofer); // the token issued before the restart is still valid: it is in the kept database
    expect((await again.getPipeline({ namespaceId: 'default', id: 'on-dev-services' })).pipeline?.id).toBe('on-dev-services');
    expect((await again.listPipelineSecrets({ namespaceId: 'default', pipelineId: 'on-dev-services' })).secrets.map((s) => s.key)).toEqual(['kept']);
    expect((await again.getRun({ namespaceId: 'default', pipelineId: 'on-dev-services', runId: 1 })).run?.status).toBe('RUN_STATUS_SUCCESSFUL');
    expect(await gofer.stop()).toBe(0);
  });

  it('starts stopped containers again, and lists, stops and removes them on request', async () => {
    const stopped = cli(['service', 'dev', 'stop']);
    expect(stopped).toMatchObject({ code: 0, stdout: `stopped ${NAME}-postgres, ${NAME}-redis\n` });
    const gofer = await start();
    expect(gofer.stderr()).toContain(`gofer: started Postgres again: container ${NAME}-postgres on 127.0.0.1:${ports.postgres} (data in volume ${NAME}-postgres)\n`);
    expect((await client(gofer).listRuns({ namespaceId: 'default', pipelineId: 'on-dev-services', limit: 0, offset: 0, states: [], statuses: [], startedBy: '' })).runs).toHaveLength(1);
    expect(await gofer.stop()).toBe(0);

    const listed = cli(['service', 'dev', 'list', '--output', 'json']);
    expect(listed.code).toBe(0);
    expect(JSON.parse(listed.stdout)).toEqual([
      { kind: 'postgres', container: `${NAME}-postgres`, volume: `${NAME}-postgres`, image: 'gofer-test/postgres:15', port: ports.postgres, state: 'running' },
      { kind: 'redis', container: `${NAME}-redis`, volume: `${NAME}-redis`, image: 'gofer-test/redis:7', port: ports.redis, state: 'running' },
    ]);
  });

  it('starts nothing when services of the user\'s own already answer on the ports, and uses them', async () => {
    const own = { postgres: await freePort(), redis: await freePort() };
    const postgres = await docker.createContainer({
      name: USERS_POSTGRES, Image: 'gofer-test/postgres:15', Env: ['POSTGRES_HOST_AUTH_METHOD=trust'],
      Cmd: ['-c', 'listen_addresses=127.0.0.1', '-p', String(own.postgres)], HostConfig: { NetworkMode: 'host' },
    });
    await postgres.start();
    const redis = spawn('redis-server', ['--port', String(own.redis), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--maxmemory-policy', 'noeviction'], { stdio: 'ignore' });
    try {
      const { default: pg } = await import('pg');
      await waitFor('the user\'s Postgres', async () => {
        const c = new pg.Client({ connectionString: `postgres://postgres@127.0.0.1:${own.postgres}/postgres` });
        return c.connect().then(() => c.end().then(() => true), () => undefined);
      });
      const gofer = await start({ GOFER_DEV_SERVICES_NAME: OTHER_NAME, GOFER_DEV_POSTGRES_PORT: String(own.postgres), GOFER_DEV_REDIS_PORT: String(own.redis) });
      expect(gofer.stderr()).not.toContain('gofer: ');
      expect(await containerIds(OTHER_NAME)).toEqual({});
      const anonymous = createGoferClient({ address: gofer.grpcAddr, timeoutMs: 30_000 });
      expect((await anonymous.bootstrapToken({})).secret).toMatch(/^gofer_/); // a new database, in the user's Postgres
      anonymous.close();
      expect(await gofer.stop()).toBe(0);
    } finally {
      redis.kill('SIGKILL');
      await postgres.remove({ force: true });
    }
  });

  it('says in one line that it needs Docker when the engine is missing, and starts nothing when told not to or in a cluster', async () => {
    const free = { GOFER_DEV_POSTGRES_PORT: String(await freePort()), GOFER_DEV_REDIS_PORT: String(await freePort()), GOFER_GRPC_ADDR: `127.0.0.1:${await freePort()}`, GOFER_HTTP_ADDR: `127.0.0.1:${await freePort()}` };
    const noDocker = cli(['service', 'start'], { ...free, GOFER_DEV_SERVICES_NAME: OTHER_NAME, GOFER_DOCKER_HOST: 'unix:///nonexistent/docker.sock' });
    expect(noDocker.code).toBe(1);
    expect(noDocker.stderr).toBe(
      `gofer: no Postgres answers on 127.0.0.1:${free.GOFER_DEV_POSTGRES_PORT} and GOFER_DATABASE_URL is not set, so Gofer would start one in Docker, but ` +
        'cannot reach a Docker engine at /nonexistent/docker.sock (connect ENOENT /nonexistent/docker.sock): Gofer needs Docker to run tasks. ' +
        'Install Docker Engine or Docker Desktop (https://docs.docker.com/get-docker/) and start it, or set GOFER_DOCKER_HOST to where it listens; ' +
        'or set GOFER_DATABASE_URL to a Postgres of your own.\n',
    );
    // Redis unset with nothing on its port would be started, were it not off (or a cluster's API-only
    // process); Postgres at a dead address then ends the start, so nothing else is touched.
    const deadPostgres = { ...free, GOFER_DEV_SERVICES_NAME: OTHER_NAME, GOFER_DATABASE_URL: 'postgres://postgres@127.0.0.1:1/gofer' };
    const off = cli(['service', 'start'], { ...deadPostgres, GOFER_DEV_SERVICES: 'off' });
    expect(off.code).toBe(1);
    expect(off.stderr).toMatch(/^gofer: cannot reach Postgres at postgres:\/\/postgres@127\.0\.0\.1:1\/gofer: /);
    const apiOnly = cli(['service', 'start', '--roles', 'api'], deadPostgres);
    expect(apiOnly.code).toBe(1);
    expect(apiOnly.stderr).toMatch(/^gofer: cannot reach Postgres at /);
    expect(await containerIds(OTHER_NAME)).toEqual({});
  });

  it('starts over with empty data after --reset-dev-data, only when confirmed', async () => {
    const refused = cli(['service', 'start', '--reset-dev-data']);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('without confirmation: add --yes');
    expect(Object.values(await containerIds(NAME)).map((v) => v.split(' ')[1])).toEqual(['running', 'running']);

    const before = await containerIds(NAME);
    const gofer = await start({}, ['--reset-dev-data', '--yes']);
    expect(gofer.stderr()).toContain(`gofer: started Postgres (gofer-test/postgres:15) as container ${NAME}-postgres`);
    expect(Object.values(await containerIds(NAME))).not.toContain(Object.values(before)[0]); // new containers
    const anonymous = createGoferClient({ address: gofer.grpcAddr, timeoutMs: 30_000 });
    token = (await anonymous.bootstrapToken({})).secret; // a new database: its first token again
    anonymous.close();
    expect((await client(gofer).listPipelines({ namespaceId: 'default', limit: 0, offset: 0 })).pipelines).toEqual([]);
    expect(await gofer.stop()).toBe(0);
  });

  it('removes the containers, and their data only when confirmed', async () => {
    const refused = cli(['service', 'dev', 'rm', '--data']);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('without confirmation: add --yes');
    expect(Object.keys(await containerIds(NAME))).toHaveLength(2);

    const removed = cli(['service', 'dev', 'rm', '--data', '--yes']);
    expect(removed).toMatchObject({ code: 0, stdout: `removed container ${NAME}-postgres, volume ${NAME}-postgres, container ${NAME}-redis, volume ${NAME}-redis\n` });
    expect(await containerIds(NAME)).toEqual({});
    expect(JSON.parse(cli(['service', 'dev', 'list', '--output', 'json']).stdout)).toEqual([]);
  });
});
