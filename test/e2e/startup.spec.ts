import { spawn, spawnSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, GOFER_BIN, TestCluster, waitFor } from '../support/gofer-process.js';

/** Runs `gofer service start` to completion (it must exit by itself) and returns its exit code and output. */
function startAndExit(env: Record<string, string>, roles = 'api,worker') {
  const result = spawnSync(process.execPath, [GOFER_BIN, 'service', 'start', '--roles', roles], {
    env: { PATH: process.env.PATH ?? '', ...env },
    encoding: 'utf8',
    timeout: 60_000,
  });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

describe('startup diagnostics', () => {
  let cluster: TestCluster;
  let base: Record<string, string>;
  beforeAll(async () => {
    cluster = await TestCluster.create('startup');
    base = cluster.env({ GOFER_GRPC_ADDR: `127.0.0.1:${await freePort()}`, GOFER_HTTP_ADDR: `127.0.0.1:${await freePort()}` });
  });
  afterAll(async () => cluster?.destroy());

  const cases: Array<[string, Record<string, string>, string, RegExp]> = [
    ['Postgres unreachable', { GOFER_DATABASE_URL: 'postgres://gofer:hunter2@127.0.0.1:1/gofer' }, 'api',
      /^gofer: cannot reach Postgres at postgres:\/\/gofer:\*\*\*@127\.0\.0\.1:1\/gofer: .*Set GOFER_DATABASE_URL/],
    ['Redis unreachable', { GOFER_REDIS_URL: 'redis://127.0.0.1:1' }, 'api',
      /^gofer: cannot reach Redis at redis:\/\/127\.0\.0\.1:1: .*Set GOFER_REDIS_URL/],
    ['Docker unreachable', { GOFER_DOCKER_HOST: 'unix:///nonexistent/docker.sock' }, 'worker',
      /^gofer: cannot reach Docker at \/nonexistent\/docker\.sock: .*GOFER_DOCKER_HOST/],
    ['Nomad unreachable', { GOFER_SCHEDULER: 'nomad', GOFER_NOMAD_ADDR: 'http://127.0.0.1:1' }, 'worker',
      /^gofer: cannot reach Nomad at http:\/\/127\.0\.0\.1:1 to ask for its leader: .*GOFER_NOMAD_ADDR/],
    ['Nomad TLS file missing', { GOFER_SCHEDULER: 'nomad', GOFER_NOMAD_ADDR: 'https://127.0.0.1:1', GOFER_NOMAD_CACERT: '/nonexistent/ca.pem' }, 'worker',
      /^gofer: cannot read GOFER_NOMAD_CACERT="\/nonexistent\/ca\.pem": ENOENT/],
    ['invalid environment', { GOFER_GRPC_ADDR: 'nowhere', GOFER_STOP_GRACE: 'soon' }, 'api',
      /^gofer: invalid configuration:\n {2}GOFER_GRPC_ADDR="nowhere": expected HOST:PORT.*\n {2}GOFER_STOP_GRACE="soon"/],
  ];

  it.each(cases)('%s: exits 1 naming the dependency, where it looked and the fix, no stack trace', (_name, env, roles, message) => {
    const result = startAndExit({ ...base, ...env }, roles);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(message);
    expect(result.stderr).not.toMatch(/\n\s+at /); // no stack trace
  });

  it('refuses a Redis that may evict keys', async () => {
    const port = await freePort();
    const redis = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--maxmemory-policy', 'allkeys-lru'], { stdio: 'ignore' });
    try {
      await waitFor('private redis', async () => {
        const { Redis } = await import('ioredis');
        const client = new Redis(`redis://127.0.0.1:${port}`, { lazyConnect: true, retryStrategy: () => null });
        try {
          await client.connect();
          return (await client.ping()) === 'PONG' ? true : undefined;
        } finally {
          client.disconnect();
        }
      });
      const result = startAndExit({ ...base, GOFER_REDIS_URL: `redis://127.0.0.1:${port}` }, 'api');
      expect(result.code).toBe(1);
      expect(result.stderr).toContain('has maxmemory-policy "allkeys-lru"; Gofer needs "noeviction"');
      expect(result.stderr).toContain('CONFIG SET maxmemory-policy noeviction');
    } finally {
      redis.kill('SIGKILL');
    }
  });

  it('warns when a worker would hand tasks a loopback address they cannot reach', async () => {
    const unreachable = await cluster.start('worker', { GOFER_DOCKER_NETWORK: '' });
    const reachable = await cluster.start('worker');
    await waitFor('the loopback warning', async () => (/a loopback address that inside a container is the container itself/.test(unreachable.output()) ? true : undefined));
    expect(reachable.output()).toMatch(/gofer service started/);
    expect(reachable.output()).not.toMatch(/loopback address/);
    await Promise.all([unreachable.kill('SIGTERM'), reachable.kill('SIGTERM')]);
  });

  it('warns when a worker-only process has no API address to give its containers', async () => {
    const lost = await cluster.start('worker', { GOFER_ADVERTISE_ADDR: '' });
    const told = await cluster.start('worker', { GOFER_ADVERTISE_ADDR: '127.0.0.1:8080' });
    await waitFor('the advertise warning', async () => (/this worker serves no API/.test(lost.output()) ? true : undefined));
    expect(told.output()).toMatch(/gofer service started/);
    expect(told.output()).not.toMatch(/this worker serves no API/);
    await Promise.all([lost.kill('SIGTERM'), told.kill('SIGTERM')]);
  });

  it('says so when its port is taken', async () => {
    const first = await cluster.start('api');
    const result = startAndExit({ ...base, GOFER_GRPC_ADDR: first.grpcAddr }, 'api');
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(new RegExp(`^gofer: cannot serve gRPC on GOFER_GRPC_ADDR=${first.grpcAddr.replace(/\./g, '\\.')}`));
  });
});
