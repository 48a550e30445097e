// docker-compose.yml for real: `docker-compose up` (Debian's v1) on the shipped file plus an override that
// only swaps each image for a local stand-in (no registry is reachable; scripts/test-images.mjs builds
// them, docs/environment.md lists them), then the host's CLI drives the cluster through the entry point's
// published port, and `docker-compose down -v` removes it. What differs from a user's `up`:
// - the gofer image is built from ./Dockerfile's `runtime-prebuilt` target on gofer-test/node:20, as
//   test/image/image.spec.ts builds it (the `runtime` target api-1 names runs npm, which that base lacks),
//   and `up --no-build` runs it;
// - Prometheus and Grafana are not started: no stand-in exists for their images, and nothing here needs them;
// - the project directory is a copy of deploy/ under test/.tmp, so the certificate the one-shot service
//   makes lands there and not in this checkout's deploy/nginx/certs.
// The file names its network `gofer` (not per project), so only one such cluster can run on an engine.
import { execFile, type ExecFileException, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { parse, stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createGoferClient } from '@gofer/proto';
import { GOFER_BIN, removeContainers, ROOT, waitFor } from '../support/gofer-process.js';
import { stagePrebuiltContext } from './prebuilt-context.js';

/** The shipped file's images (repository, tag dropped) and the local images standing in for them. */
const STAND_INS: Record<string, string> = {
  postgres: 'gofer-test/postgres:15',
  redis: 'gofer-test/redis:7',
  'minio/minio': 'gofer-test/minio:latest',
  'minio/mc': 'gofer-test/mc:latest',
  nginx: 'gofer-test/nginx:latest',
};
/** Services left out, and why (their images have no stand-in; the run does not need them). */
const NOT_STARTED = ['prometheus', 'grafana'];
const ENTRY_POINT = 'gofer';

const id = randomBytes(4).toString('hex');
const project = `gofer-compose-test-${id}`;
const goferImage = `gofer-test/gofer:compose-${id}`;
const dir = join(ROOT, 'test/.tmp', `compose-up-${id}`);
const override = join(dir, 'docker-compose.stand-ins.yml');

interface Service {
  image?: string;
  healthcheck?: unknown;
  deploy?: { replicas?: number };
  restart?: string;
}
const compose = parse(readFileSync(join(ROOT, 'docker-compose.yml'), 'utf8'), { merge: true }) as {
  services: Record<string, Service>;
  networks: Record<string, { name?: string }>;
};
const NETWORK = compose.networks.gofer!.name!;
const started = Object.keys(compose.services).filter((name) => !NOT_STARTED.includes(name));

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

async function exec(file: string, args: string[], timeoutMs = 120_000): Promise<Result> {
  try {
    const { stdout, stderr } = await promisify(execFile)(file, args, { cwd: ROOT, timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as ExecFileException & { stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : 1, stdout: e.stdout ?? '', stderr: e.stderr ?? e.message };
  }
}

async function ok(file: string, args: string[], timeoutMs?: number): Promise<string> {
  const result = await exec(file, args, timeoutMs);
  if (result.code !== 0) throw new Error(`${file} ${args.join(' ')} exited ${result.code}:\n${result.stdout}\n${result.stderr}`);
  return result.stdout.trim();
}

/** docker-compose (v1) on the shipped file and the override, in this test's project. */
const composeArgs = (args: string[]) => ['-p', project, '--project-directory', dir, '-f', join(ROOT, 'docker-compose.yml'), '-f', override, ...args];
const dockerCompose = (args: string[], timeoutMs?: number) => ok('docker-compose', composeArgs(args), timeoutMs);

/** The host's built CLI, with no --host and no GOFER_HOST: the default address must be the entry point. */
function gofer(args: string[], token?: string): Promise<{ code: number | null; out: string; err: string }> {
  const env: Record<string, string> = { PATH: process.env.PATH ?? '', HOME: dir };
  if (token) env.GOFER_TOKEN = token;
  const child = spawn(process.execPath, [GOFER_BIN, ...args], { cwd: dir, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, out, err }));
  });
}

/** The project's containers by service, with what `docker inspect` says of their state. */
async function containersByService(): Promise<Record<string, Array<{ status: string; exitCode: number; health?: string }>>> {
  const ids = (await dockerCompose(['ps', '-a', '-q'])).split('\n').filter(Boolean);
  const inspected = JSON.parse(await ok('docker', ['inspect', ...ids])) as Array<{
    Config: { Labels: Record<string, string> };
    State: { Status: string; ExitCode: number; Health?: { Status: string } };
  }>;
  const byService: Record<string, Array<{ status: string; exitCode: number; health?: string }>> = {};
  for (const c of inspected) {
    (byService[c.Config.Labels['com.docker.compose.service']!] ??= []).push({ status: c.State.Status, exitCode: c.State.ExitCode, health: c.State.Health?.Status });
  }
  return byService;
}

/** Sums every sample of a metric in one process's /metrics. */
async function metricSum(url: string, name: string): Promise<number> {
  const text = await (await fetch(url)).text();
  return text
    .split('\n')
    .filter((line) => line.startsWith(`${name}{`) || line.startsWith(`${name} `))
    .reduce((sum, line) => sum + Number(line.slice(line.lastIndexOf(' ') + 1)), 0);
}

/** GET over TLS, trusting only `ca` (and checking the name in the URL against the certificate). */
function httpsGet(url: string, ca: Buffer): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { ca }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode!, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

const PIPELINE = `
id: compose-up
tasks:
  - id: greet
    image: busybox:latest
    # Task containers join the compose network, where gofer-api is the entry point.
    script: 'echo "GOFER_HOST=$GOFER_HOST"; wget -q -O - http://gofer-api:8081/healthz'
  - id: after
    image: busybox:latest
    script: 'echo "after greet"'
    depends_on: { greet: success }
`;

describe('docker-compose up on the shipped docker-compose.yml (v1, local stand-in images)', () => {
  let token: string;

  beforeAll(async () => {
    if (!existsSync(GOFER_BIN)) throw new Error(`${GOFER_BIN} is missing: run npm run build first`);
    // Never adopt (and then delete) someone else's network of that name.
    const existing = await exec('docker', ['network', 'inspect', NETWORK]);
    if (existing.code === 0) {
      throw new Error(`a Docker network named "${NETWORK}" exists already: docker-compose.yml names its network so, and it can run once per engine`);
    }
    for (const image of Object.values(STAND_INS)) {
      if ((await exec('docker', ['image', 'inspect', image])).code !== 0) throw new Error(`${image} is missing: run node scripts/test-images.mjs`);
    }

    const building = Date.now();
    mkdirSync(join(dir, 'context'), { recursive: true });
    try {
      stagePrebuiltContext(ROOT, join(dir, 'context'));
      await ok('docker', ['build', '-q', '--force-rm', '-f', join(ROOT, 'Dockerfile'), '--build-arg', 'NODE_IMAGE=gofer-test/node:20',
        '--target', 'runtime-prebuilt', '-t', goferImage, join(dir, 'context')], 600_000);
    } finally {
      rmSync(join(dir, 'context'), { recursive: true, force: true });
    }

    const built = Date.now();
    // The project directory: this checkout's deploy/ files, without any certificate of its own.
    cpSync(join(ROOT, 'deploy'), join(dir, 'deploy'), { recursive: true, filter: (src) => !src.startsWith(join(ROOT, 'deploy/nginx/certs/')) });
    mkdirSync(join(dir, 'deploy/nginx/certs'), { recursive: true });
    // Only images change.
    const services = Object.fromEntries(
      started.map((name) => {
        const image = compose.services[name]!.image!;
        const standIn = image === 'gofer:local' ? goferImage : STAND_INS[image.slice(0, image.lastIndexOf(':'))];
        if (!standIn) throw new Error(`no stand-in for ${image} (service ${name})`);
        return [name, { image: standIn }];
      }),
    );
    writeFileSync(override, stringify({ services }));

    // The entry point and the workers pull in every other started service through depends_on.
    const start = Date.now();
    await dockerCompose(['up', '-d', '--no-build', ENTRY_POINT, 'worker'], 300_000).catch(async (error: Error) => {
      const logs = await exec('docker-compose', composeArgs(['logs', '--no-color', '--tail', '40']));
      throw new Error(`${error.message}\n${logs.stdout}${logs.stderr}`);
    });
    // `up` waits only for the health that some service depends on: not the entry point's or the workers'.
    const longRunning = started.filter((name) => compose.services[name]!.restart !== 'no');
    await waitFor('every long-running service to be healthy', async () => {
      const byService = await containersByService();
      return longRunning.every((name) => byService[name]?.every((c) => c.health === 'healthy')) ? true : undefined;
    }, 120_000).catch(async (error: Error) => {
      throw new Error(`${error.message}\n${JSON.stringify(await containersByService(), null, 1)}`);
    });
    console.log(`gofer image built in ${((built - building) / 1000).toFixed(1)} s; docker-compose up -d until all healthy: ${((Date.now() - start) / 1000).toFixed(1)} s`);
  }, 900_000);

  afterAll(async () => {
    if (!existsSync(override)) {
      await exec('docker', ['image', 'rm', '-f', goferImage]);
      rmSync(dir, { recursive: true, force: true });
      return;
    }
    // Trigger containers the workers started are not the project's own, yet sit on its network: they go first.
    const cluster = await exec('docker-compose', composeArgs(['exec', '-T', 'postgres', 'psql', '-U', 'gofer', '-d', 'gofer', '-tAc', 'SELECT id FROM cluster']));
    await exec('docker-compose', composeArgs(['stop']), 120_000);
    const clusterId = cluster.stdout.trim();
    if (cluster.code === 0 && clusterId) await removeContainers({ 'gofer.cluster': clusterId });
    const down = await exec('docker-compose', composeArgs(['down', '-v', '--remove-orphans']), 120_000);
    const left = {
      containers: (await exec('docker', ['ps', '-aq', '--filter', `label=com.docker.compose.project=${project}`])).stdout.trim(),
      volumes: (await exec('docker', ['volume', 'ls', '-q', '--filter', `label=com.docker.compose.project=${project}`])).stdout.trim(),
      network: (await exec('docker', ['network', 'inspect', NETWORK])).code === 0,
    };
    await exec('docker', ['image', 'rm', '-f', goferImage]);
    rmSync(dir, { recursive: true, force: true });
    expect({ code: down.code, stderr: down.code === 0 ? '' : down.stderr, left }).toEqual({ code: 0, stderr: '', left: { containers: '', volumes: '', network: false } });
  }, 300_000);

  it('starts every service but Prometheus and Grafana: long-running ones healthy, one-shots done, two workers', async () => {
    expect(Object.keys(compose.services).sort()).toEqual([...started, ...NOT_STARTED].sort());
    const running = await containersByService();
    expect(Object.keys(running).sort()).toEqual([...started].sort());
    for (const name of started) {
      const service = compose.services[name]!;
      const list = running[name]!;
      expect(list, name).toHaveLength(service.deploy?.replicas ?? 1);
      for (const c of list) {
        if (service.restart === 'no') expect({ status: c.status, exitCode: c.exitCode }, name).toEqual({ status: 'exited', exitCode: 0 });
        // gofer:local's own HEALTHCHECK, or the service's.
        else expect({ status: c.status, health: c.health }, name).toEqual({ status: 'running', health: 'healthy' });
      }
    }
  });

  it('answers the host CLI at its default address: bootstrap, apply, run to completion, logs from a task on the network', async () => {
    const bootstrap = await gofer(['service', 'token', 'bootstrap']);
    expect({ code: bootstrap.code, err: bootstrap.err }).toEqual({ code: 0, err: '' });
    token = bootstrap.out.trim();
    expect(token).not.toBe('');

    writeFileSync(join(dir, 'pipeline.yaml'), PIPELINE);
    const applied = await gofer(['pipeline', 'apply', 'pipeline.yaml'], token);
    expect({ code: applied.code, err: applied.err }).toEqual({ code: 0, err: '' });
    const run = await gofer(['pipeline', 'run', 'compose-up', '--wait'], token);
    expect({ code: run.code, err: run.err }).toEqual({ code: 0, err: '' });

    const logs = await gofer(['taskrun', 'logs', 'compose-up', '1', 'greet'], token);
    expect(logs.code).toBe(0);
    expect(logs.out).toBe('GOFER_HOST=gofer-api:8080\n{"status":"ok"}');
    const after = await gofer(['taskrun', 'logs', 'compose-up', '1', 'after'], token);
    expect({ code: after.code, out: after.out }).toEqual({ code: 0, out: 'after greet\n' });
  });

  it('keeps objects in the MinIO service’s bucket', async () => {
    const content = randomBytes(64 * 1024).toString('hex');
    writeFileSync(join(dir, 'object.txt'), content);
    const put = await gofer(['pipeline', 'object', 'put', 'compose-up', 'greeting', 'object.txt'], token);
    expect({ code: put.code, err: put.err }).toEqual({ code: 0, err: '' });
    const get = await gofer(['pipeline', 'object', 'get', 'compose-up', 'greeting', 'copy.txt'], token);
    expect({ code: get.code, err: get.err }).toEqual({ code: 0, err: '' });
    expect(readFileSync(join(dir, 'copy.txt'), 'utf8')).toBe(content);
    // In the bucket minio-bucket made, on the minio service's volume.
    const stored = await dockerCompose(['exec', '-T', 'minio', 'sh', '-c', 'grep -rl "$0" /data/gofer', content.slice(0, 64)]);
    expect(stored).toMatch(/^\/data\/gofer\//);
  });

  it('spreads the API calls of one client over both replicas', async () => {
    const metrics = ['127.0.0.1:8083', '127.0.0.1:8085'].map((a) => `http://${a}/metrics`);
    const count = () => Promise.all(metrics.map((url) => metricSum(url, 'gofer_grpc_request_duration_seconds_count')));
    const before = await count();
    const client = createGoferClient({ address: '127.0.0.1:8080', token, timeoutMs: 30_000 });
    try {
      for (let i = 0; i < 10; i++) await client.listPipelines({ namespaceId: 'default', limit: 0, offset: 0 });
    } finally {
      client.close();
    }
    const after = await count();
    expect(after[0]! - before[0]!).toBeGreaterThan(0);
    expect(after[1]! - before[1]!).toBeGreaterThan(0);
  });

  it('serves HTTP on 8081 and the same over TLS on 8443 with the certificate the one-shot service made', async () => {
    const health = await fetch('http://127.0.0.1:8081/healthz');
    expect(health.status).toBe(200);
    const ca = readFileSync(join(dir, 'deploy/nginx/certs/tls.crt'));
    const tls = await httpsGet('https://127.0.0.1:8443/healthz', ca);
    expect(tls).toEqual({ status: 200, body: await health.text() });
    expect((await fetch('http://127.0.0.1:8081/metrics')).status).toBe(404);
  });
});
