// The cluster's entry point, for real: deploy/nginx/gofer.conf in Debian's nginx, in front of two live
// API processes (`--roles api`) and a worker, with loopback addresses in place of the compose names and
// ports (test/support/nginx.ts rewrites only those). The built CLI talks to nginx alone. Proves that a
// pipeline is applied and run to completion through it, that calls are spread over both replicas (each
// one's own gofer_grpc_request_duration_seconds count grows), that an object over Gofer's 4 MiB message
// size streams through both ways, that tasks are given the entry point as GOFER_HOST, and that unary
// calls still succeed after one replica is SIGKILLed. That a quiet `--follow` outlives nginx's 60 s
// default is checked on the file itself (test/image/compose.spec.ts), not waited for here.
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createGoferClient, type GoferClient } from '@gofer/proto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, GOFER_BIN, ROOT, TestCluster, type GoferProcess } from '../support/gofer-process.js';
import { directives, parseNginxConfig, rewriteForLoopback, startNginx, type NginxProcess } from '../support/nginx.js';

const CONF = join(ROOT, 'deploy/nginx/gofer.conf');
/** The container ports gofer.conf uses: the image's GOFER_GRPC_ADDR and GOFER_HTTP_ADDR ports. */
const GRPC_PORT = '8080';
const HTTP_PORT = '8081';

const PIPELINE = `
id: through-nginx
tasks:
  - id: greet
    image: busybox:latest
    script: 'echo "GOFER_HOST=$GOFER_HOST"'
  - id: after
    image: busybox:latest
    script: 'echo "after greet"'
    depends_on: { greet: success }
`;

interface CliResult {
  code: number | null;
  out: string;
  err: string;
}

/** Sums every sample of a metric (all label sets) in a process's own /metrics. */
async function metricSum(process: GoferProcess, name: string): Promise<number> {
  const text = await (await fetch(`http://${process.httpAddr}/metrics`)).text();
  return text
    .split('\n')
    .filter((line) => line.startsWith(`${name}{`) || line.startsWith(`${name} `))
    .reduce((sum, line) => sum + Number(line.slice(line.lastIndexOf(' ') + 1)), 0);
}
const rpcCount = (process: GoferProcess) => metricSum(process, 'gofer_grpc_request_duration_seconds_count');

describe('the nginx entry point (deploy/nginx/gofer.conf) in front of two API replicas', () => {
  let cluster: TestCluster;
  let apis: GoferProcess[];
  let nginx: NginxProcess;
  let entry: { grpc: string; http: string };
  let dir: string;
  let client: GoferClient;

  /** The built CLI, pointed at the entry point only. */
  function gofer(args: string[]): Promise<CliResult> {
    const child = spawn(process.execPath, [GOFER_BIN, '--host', entry.grpc, ...args], {
      cwd: dir,
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/root', GOFER_TOKEN: cluster.token },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    return new Promise((resolve, reject) => {
      child.on('error', reject);
      child.on('close', (code) => resolve({ code, out, err }));
    });
  }

  beforeAll(async () => {
    if (!existsSync(GOFER_BIN)) throw new Error(`${GOFER_BIN} is missing: run npm run build first`);
    dir = await mkdtemp(join(tmpdir(), 'gofer-nginx-e2e-'));
    cluster = await TestCluster.create('nginx_entry');
    apis = [await cluster.start('api'), await cluster.start('api')];

    // The replica names the upstreams list, in order of first appearance, stand for the two processes.
    const conf = await readFile(CONF, 'utf8');
    const names = [
      ...new Set(
        directives(parseNginxConfig(conf), 'upstream').flatMap((u) =>
          directives(u.block!, 'server').map((s) => s.args[0]!.slice(0, s.args[0]!.lastIndexOf(':'))),
        ),
      ),
    ];
    expect(names).toHaveLength(apis.length);
    const addresses = Object.fromEntries(
      names.flatMap((name, i) => [[`${name}:${GRPC_PORT}`, apis[i]!.grpcAddr], [`${name}:${HTTP_PORT}`, apis[i]!.httpAddr]]),
    );
    const listen = { [GRPC_PORT]: await freePort(), [HTTP_PORT]: await freePort() };
    entry = { grpc: `127.0.0.1:${listen[GRPC_PORT]}`, http: `127.0.0.1:${listen[HTTP_PORT]}` };
    nginx = await startNginx(rewriteForLoopback(conf, addresses, listen), `http://${entry.http}/healthz`);

    // The worker gives task containers the entry point, as docker-compose.yml's workers do.
    await cluster.start('worker', { GOFER_ADVERTISE_ADDR: entry.grpc });
    client = createGoferClient({ address: entry.grpc, token: cluster.token, timeoutMs: 30_000 });
  });

  afterAll(async () => {
    client?.close();
    await nginx?.stop();
    await cluster?.destroy();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('serves /healthz and /readyz from the replicas, and refuses to balance /metrics', async () => {
    expect((await fetch(`http://${entry.http}/healthz`)).status).toBe(200);
    const ready = await fetch(`http://${entry.http}/readyz`);
    expect({ status: ready.status, body: await ready.json() }).toMatchObject({ status: 200, body: { status: 'ok' } });
    const metrics = await fetch(`http://${entry.http}/metrics`);
    expect(metrics.status).toBe(404);
    expect(await metrics.text()).toMatch(/per process/);
  });

  it('carries the CLI: apply, run to completion, logs; tasks are told the entry point', async () => {
    await writeFile(join(dir, 'pipeline.yaml'), PIPELINE);
    const applied = await gofer(['pipeline', 'apply', 'pipeline.yaml']);
    expect({ code: applied.code, err: applied.err }).toEqual({ code: 0, err: '' });

    const run = await gofer(['pipeline', 'run', 'through-nginx', '--wait']);
    expect({ code: run.code, err: run.err }).toEqual({ code: 0, err: '' });

    const logs = await gofer(['taskrun', 'logs', 'through-nginx', '1', 'greet']);
    expect({ code: logs.code, out: logs.out }).toEqual({ code: 0, out: `GOFER_HOST=${entry.grpc}\n` });
  });

  it('streams an object larger than one gRPC message both ways', async () => {
    const content = randomBytes(6 * 1024 * 1024 + 123);
    await writeFile(join(dir, 'big.bin'), content);
    const put = await gofer(['pipeline', 'object', 'put', 'through-nginx', 'big.bin', 'big.bin']);
    expect({ code: put.code, err: put.err }).toEqual({ code: 0, err: '' });
    const get = await gofer(['pipeline', 'object', 'get', 'through-nginx', 'big.bin', 'copy.bin']);
    expect({ code: get.code, err: get.err }).toEqual({ code: 0, err: '' });
    const copy = await readFile(join(dir, 'copy.bin'));
    expect(createHash('sha256').update(copy).digest('hex')).toBe(createHash('sha256').update(content).digest('hex'));
  });

  it('spreads calls over both replicas', async () => {
    const before = await Promise.all(apis.map(rpcCount));
    for (let i = 0; i < 10; i++) await client.listPipelines({ namespaceId: 'default', limit: 0, offset: 0 });
    const after = await Promise.all(apis.map(rpcCount));
    // Round robin per call: each replica took some of the ten (and they took all of them).
    expect(after[0]! - before[0]!).toBeGreaterThan(0);
    expect(after[1]! - before[1]!).toBeGreaterThan(0);
    expect(after[0]! - before[0]! + (after[1]! - before[1]!)).toBeGreaterThanOrEqual(10);
  });

  it('keeps answering unary calls, and runs pipelines, after one replica is SIGKILLed', async () => {
    const [dead, survivor] = apis as [GoferProcess, GoferProcess];
    await dead.kill('SIGKILL');
    const before = await rpcCount(survivor);
    for (let i = 0; i < 10; i++) {
      const { pipelines } = await client.listPipelines({ namespaceId: 'default', limit: 0, offset: 0 });
      expect(pipelines.map((p) => p.id)).toContain('through-nginx');
    }
    expect((await rpcCount(survivor)) - before).toBeGreaterThanOrEqual(10);

    const run = await gofer(['pipeline', 'run', 'through-nginx', '--wait']);
    expect({ code: run.code, err: run.err }).toEqual({ code: 0, err: '' });
    expect((await fetch(`http://${entry.http}/readyz`)).status).toBe(200);
  });
});
