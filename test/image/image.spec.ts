// The Docker image: built from ./Dockerfile (target runtime-prebuilt, from the local node base, since no
// registry is reachable), then run the way users run it, against this machine's Postgres and Redis.
// Expects `npm run build` and `node scripts/test-images.mjs` to have run (the suite's `pretest` does).
//
// GOFER_TEST_IMAGE=<image> skips the build and tests that image instead (e.g. one built with the
// default target: `docker build -t gofer:local .`).
import { execFile, type ExecFileException } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createGoferClient, type GoferClient } from '@gofer/proto';
import { freePort, removeContainers, ROOT, waitFor } from '../support/gofer-process.js';
import { apply, readLogs, startRun, waitForRun } from '../support/runs.js';
import { stagePrebuiltContext } from './prebuilt-context.js';

const BASE_IMAGE = 'gofer-test/node:20';
const POSTGRES = 'postgres://postgres@127.0.0.1:5432';
const DOCKER_SOCKET = '/var/run/docker.sock';

const id = randomBytes(4).toString('hex');
const builtTag = `gofer-test/gofer:image-${id}`;
const image = process.env.GOFER_TEST_IMAGE || builtTag;
const database = `gofer_image_${id}`;
const redisPrefix = `goferImage_${id}`;
const container = `gofer-image-${id}`;
const version = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the docker CLI; resolves with the exit code instead of throwing, so tests can assert on it. */
async function docker(args: string[], timeoutMs = 120_000): Promise<Result> {
  try {
    const { stdout, stderr } = await promisify(execFile)('docker', args, { timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as ExecFileException & { stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : 1, stdout: e.stdout ?? '', stderr: e.stderr ?? e.message };
  }
}

async function dockerOk(args: string[], timeoutMs?: number): Promise<string> {
  const result = await docker(args, timeoutMs);
  if (result.code !== 0) throw new Error(`docker ${args.join(' ')} exited ${result.code}:\n${result.stdout}\n${result.stderr}`);
  return result.stdout.trim();
}

async function adminQuery(sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: `${POSTGRES}/postgres` });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

describe('the gofer image', () => {
  let grpcAddr: string;
  let httpAddr: string;
  let client: GoferClient;

  beforeAll(async () => {
    if (!process.env.GOFER_TEST_IMAGE) {
      const context = join(ROOT, 'test/.tmp', `image-${id}`);
      mkdirSync(context, { recursive: true });
      try {
        stagePrebuiltContext(ROOT, context);
        await dockerOk(
          ['build', '-q', '--force-rm', '-f', join(ROOT, 'Dockerfile'), '--build-arg', `NODE_IMAGE=${BASE_IMAGE}`, '--target', 'runtime-prebuilt', '-t', builtTag, context],
          600_000,
        );
      } finally {
        rmSync(context, { recursive: true, force: true });
      }
    }

    grpcAddr = `127.0.0.1:${await freePort()}`;
    httpAddr = `127.0.0.1:${await freePort()}`;
    // Both roles, as `docker compose up` runs them: the worker reaches the engine through the mounted
    // socket, as the image's non-root user given the socket's group (what the Dockerfile documents).
    await dockerOk([
      'run', '-d', '--name', container, '--network', 'host',
      '--group-add', String(statSync(DOCKER_SOCKET).gid),
      '-v', `${DOCKER_SOCKET}:${DOCKER_SOCKET}`,
      '-e', `GOFER_DATABASE_URL=${POSTGRES}/${database}`,
      '-e', 'GOFER_REDIS_URL=redis://127.0.0.1:6379',
      '-e', `GOFER_REDIS_PREFIX=${redisPrefix}`,
      '-e', `GOFER_GRPC_ADDR=${grpcAddr}`,
      '-e', `GOFER_HTTP_ADDR=${httpAddr}`,
      '-e', `GOFER_WORKER_ID=image-${id}`,
      '-e', 'GOFER_DOCKER_NETWORK=host',
      image,
    ]);
    await waitFor('the container to answer /healthz and /readyz', async () => {
      const state = await dockerOk(['inspect', '--format', '{{.State.Status}} {{.State.ExitCode}}', container]);
      if (!state.startsWith('running')) {
        const logs = await docker(['logs', container]);
        throw new Error(`container stopped (${state}):\n${logs.stdout}${logs.stderr}`);
      }
      const health = await fetch(`http://${httpAddr}/healthz`).catch(() => undefined);
      const ready = await fetch(`http://${httpAddr}/readyz`).catch(() => undefined);
      return health?.ok && ready?.ok ? true : undefined;
    }, 60_000).catch(async (error: Error) => {
      const logs = await docker(['logs', container]);
      throw new Error(`${error.message}\ncontainer output:\n${logs.stdout}${logs.stderr}`);
    });
    const anonymous = createGoferClient({ address: grpcAddr, timeoutMs: 30_000 });
    const { secret } = await anonymous.bootstrapToken({}).finally(() => anonymous.close());
    client = createGoferClient({ address: grpcAddr, timeoutMs: 30_000, token: secret });
  }, 900_000);

  afterAll(async () => {
    client?.close();
    await docker(['rm', '-f', '-v', container]);
    const clusterId = await (async () => {
      const db = new pg.Client({ connectionString: `${POSTGRES}/${database}` });
      await db.connect();
      try {
        return (await db.query('SELECT id FROM cluster')).rows[0]?.id as string | undefined;
      } finally {
        await db.end();
      }
    })().catch(() => undefined);
    if (clusterId) await removeContainers({ 'gofer.cluster': clusterId });
    await adminQuery(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
    const { Redis } = await import('ioredis');
    const redis = new Redis('redis://127.0.0.1:6379');
    const keys = await redis.keys(`${redisPrefix}:*`);
    if (keys.length > 0) await redis.del(...keys);
    redis.disconnect();
    if (!process.env.GOFER_TEST_IMAGE) await docker(['image', 'rm', '-f', builtTag]);
  }, 120_000);

  it('runs as a non-root user with the documented entrypoint, ports and defaults', async () => {
    const [config] = JSON.parse(await dockerOk(['image', 'inspect', image])) as Array<{
      Config: { User: string; Entrypoint: string[]; Cmd: string[]; ExposedPorts: Record<string, object>; Env: string[] };
    }>;
    expect(config.Config.User).toBe('1000:1000');
    expect(config.Config.Entrypoint).toEqual(['node', '/app/apps/gofer/dist/main.js']);
    expect(config.Config.Cmd).toEqual(['service', 'start']);
    expect(Object.keys(config.Config.ExposedPorts).sort()).toEqual(['8080/tcp', '8081/tcp']);
    expect(config.Config.Env).toEqual(
      expect.arrayContaining(['GOFER_GRPC_ADDR=0.0.0.0:8080', 'GOFER_HTTP_ADDR=0.0.0.0:8081', 'GOFER_OBJECT_STORE=fs:///var/lib/gofer/objects']),
    );
    expect(await dockerOk(['exec', container, 'id', '-u'])).toBe('1000');
  });

  it('holds only what runs: no sources, no dev dependencies', async () => {
    const listing = await dockerOk(['exec', container, 'sh', '-c',
      'ls /app; ls -d /app/libs/*/src /app/apps/*/src 2>/dev/null; ls -d /app/node_modules/vitest /app/node_modules/typescript 2>/dev/null; true']);
    expect(listing.split('\n').sort()).toEqual(['apps', 'libs', 'node_modules', 'package-lock.json', 'package.json', 'proto']);
  });

  it('serves the gRPC API: system info and a pipeline apply', async () => {
    const info = await client.getSystemInfo({});
    expect(info).toMatchObject({ version, scheduler: 'docker' });

    await apply(client, 'id: image-smoke\nname: Image smoke\ntasks:\n  - id: hello\n    image: busybox:latest\n    script: echo "hello from $GOFER_TASK_ID inside the image"\n');
    const { pipeline } = await client.getPipeline({ namespaceId: 'default', id: 'image-smoke' });
    expect(pipeline).toMatchObject({ id: 'image-smoke', name: 'Image smoke', latestConfigVersion: 1 });
  });

  it('runs a task container through the mounted Docker socket and serves its logs', async () => {
    await apply(client, 'id: image-run\ntasks:\n  - id: hello\n    image: busybox:latest\n    script: echo "hello from $GOFER_TASK_ID inside the image"\n');
    const started = await startRun(client, 'image-run');
    const { run, tasks } = await waitForRun(client, 'image-run', started.id);
    expect(run.status, JSON.stringify(tasks.hello?.statusReason)).toBe('RUN_STATUS_SUCCESSFUL');
    expect(tasks.hello).toMatchObject({ state: 'TASK_RUN_STATE_COMPLETE', status: 'TASK_RUN_STATUS_SUCCESSFUL', exitCode: 0 });
    expect(await readLogs(client, 'image-run', started.id, 'hello')).toContain('hello from hello inside the image');
  });

  it('passes its own HEALTHCHECK command', async () => {
    const healthcheck = JSON.parse(await dockerOk(['image', 'inspect', '--format', '{{json .Config.Healthcheck.Test}}', image])) as string[];
    expect(healthcheck[0]).toBe('CMD');
    // The same command the engine runs, in the same container and environment.
    expect((await docker(['exec', container, ...healthcheck.slice(1)])).code).toBe(0);
    // And it fails when nothing listens where GOFER_HTTP_ADDR points.
    const elsewhere = `127.0.0.1:${await freePort()}`;
    expect((await docker(['exec', '-e', `GOFER_HTTP_ADDR=${elsewhere}`, container, ...healthcheck.slice(1)])).code).toBe(1);
  });

  it('exits non-zero with one line naming Postgres and where it looked when Postgres is unreachable', async () => {
    const result = await docker([
      'run', '--rm', '--network', 'host',
      '-e', 'GOFER_DATABASE_URL=postgres://postgres@127.0.0.1:1/x',
      '-e', `GOFER_GRPC_ADDR=127.0.0.1:${await freePort()}`,
      '-e', `GOFER_HTTP_ADDR=127.0.0.1:${await freePort()}`,
      image,
    ]);
    expect(result.code).not.toBe(0);
    const output = `${result.stdout}${result.stderr}`.trim();
    expect(output.split('\n'), output).toHaveLength(1);
    expect(output).toMatch(/^gofer: cannot reach Postgres at postgres:\/\/postgres@127\.0\.0\.1:1\/x: /);
    expect(output).toContain('GOFER_DATABASE_URL');
  });
});
