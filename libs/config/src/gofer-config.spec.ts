import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CONFIG_VARIABLES, ConfigError, loadConfig, splitAddress } from './gofer-config.js';

describe('loadConfig', () => {
  it('applies defaults for an empty environment', () => {
    const config = loadConfig({});
    expect(config.grpcAddr).toBe('127.0.0.1:8080');
    expect(config.httpAddr).toBe('127.0.0.1:8081');
    expect(config.advertiseAddr).toBe('127.0.0.1:8080');
    expect(config.stopGraceMs).toBe(10_000);
    expect(config.logCapBytes).toBe(64 * 1024 * 1024);
    expect(config.uploadIdleTimeoutMs).toBe(30_000);
    expect(loadConfig({ GOFER_UPLOAD_IDLE_TIMEOUT: '500ms' }).uploadIdleTimeoutMs).toBe(500);
  });

  it('parses durations and numbers', () => {
    const config = loadConfig({ GOFER_STOP_GRACE: '500ms', GOFER_WORKER_CONCURRENCY: '3', GOFER_RECONCILE_INTERVAL: '2m' });
    expect(config).toMatchObject({ stopGraceMs: 500, workerConcurrency: 3, reconcileIntervalMs: 120_000 });
  });

  // Durations are read by the pipeline duration parser (libs/pipeline), after trimming.
  it.each([
    ['0s', 0],
    [' 5s ', 5_000],
    ['1h30m', 5_400_000],
    ['1.5s', 1_500],
    ['168h', 604_800_000],
  ])('reads the duration %j as %d ms', (text, ms) => {
    expect(loadConfig({ GOFER_STOP_GRACE: text }).stopGraceMs).toBe(ms);
  });
  it.each(['10', '1d', '5 s', '1s30m', '-1s', 'soon'])('rejects the duration %j', (text) => {
    expect(() => loadConfig({ GOFER_STOP_GRACE: text })).toThrow(`"${text}" is not a duration like 500ms, 5s, 2m or 1h`);
  });

  const bad: Array<[Record<string, string>, string]> = [
    [{ GOFER_GRPC_ADDR: 'localhost' }, 'GOFER_GRPC_ADDR="localhost": expected HOST:PORT, e.g. 127.0.0.1:8080'],
    [{ GOFER_STOP_GRACE: 'ten seconds' }, 'GOFER_STOP_GRACE="ten seconds": "ten seconds" is not a duration like 500ms, 5s, 2m or 1h'],
    [{ GOFER_SCHEDULER: 'kubernetes' }, 'GOFER_SCHEDULER="kubernetes"'],
    [{ GOFER_WORKER_CONCURRENCY: '0' }, 'GOFER_WORKER_CONCURRENCY="0"'],
    [{ GOFER_DATABASE_URL: 'not a url' }, 'GOFER_DATABASE_URL="not a url"'],
    [{ GOFER_OBJECT_STORE: '/tmp/x' }, 'GOFER_OBJECT_STORE="/tmp/x": expected fs:///path/to/dir'],
    [{ GOFER_UPLOAD_IDLE_TIMEOUT: '0s' }, 'GOFER_UPLOAD_IDLE_TIMEOUT="0s": must be longer than 0'],
    [{ GOFER_UPLOAD_IDLE_TIMEOUT: '30' }, 'GOFER_UPLOAD_IDLE_TIMEOUT="30": "30" is not a duration'],
    [{ GOFER_NOMAD_ADDR: '127.0.0.1:4646' }, 'GOFER_NOMAD_ADDR="127.0.0.1:4646": expected an http:// or https:// URL, e.g. http://127.0.0.1:4646'],
    [{ GOFER_NOMAD_ADDR: 'unix:///var/run/nomad.sock' }, 'GOFER_NOMAD_ADDR="unix:///var/run/nomad.sock": expected an http:// or https:// URL'],
    [{ GOFER_NOMAD_NAMESPACE: 'team a' }, 'GOFER_NOMAD_NAMESPACE="team a": expected a Nomad namespace name'],
    [{ GOFER_NOMAD_NODE_POOL: 'gpu/large' }, 'GOFER_NOMAD_NODE_POOL="gpu/large": expected a Nomad node pool name'],
    [{ GOFER_NOMAD_DATACENTERS: ' , ,' }, 'GOFER_NOMAD_DATACENTERS=" , ,": expected at least one datacenter'],
    [{ GOFER_NOMAD_SKIP_VERIFY: 'yes' }, 'GOFER_NOMAD_SKIP_VERIFY="yes"'],
    [{ GOFER_DEV_SERVICES: 'on' }, 'GOFER_DEV_SERVICES="on"'],
    [{ GOFER_DEV_POSTGRES_PORT: '70000' }, 'GOFER_DEV_POSTGRES_PORT="70000"'],
    [{ GOFER_DEV_SERVICES_NAME: 'My Services' }, 'GOFER_DEV_SERVICES_NAME="My Services": expected a Docker name prefix'],
    // Mutual TLS takes both halves; either alone names both variables.
    [{ GOFER_NOMAD_CLIENT_CERT: '/tls/cli.pem' }, 'GOFER_NOMAD_CLIENT_CERT="/tls/cli.pem": GOFER_NOMAD_CLIENT_CERT and GOFER_NOMAD_CLIENT_KEY go together'],
    [{ GOFER_NOMAD_CLIENT_KEY: '/tls/cli-key.pem' }, 'GOFER_NOMAD_CLIENT_KEY="/tls/cli-key.pem": GOFER_NOMAD_CLIENT_CERT and GOFER_NOMAD_CLIENT_KEY go together'],
  ];

  it('defaults Nomad to a local agent, namespace default, every datacenter, plain HTTP', () => {
    const config = loadConfig({});
    expect(config.scheduler).toBe('docker');
    expect(config.nomad).toEqual({
      address: 'http://127.0.0.1:4646',
      token: undefined,
      namespace: 'default',
      region: undefined,
      datacenters: ['*'],
      nodePool: undefined,
      networkMode: undefined,
      tls: { caCert: undefined, clientCert: undefined, clientKey: undefined, serverName: undefined, skipVerify: false },
    });
  });

  it('reads every GOFER_NOMAD_* setting', () => {
    const config = loadConfig({
      GOFER_SCHEDULER: 'nomad',
      GOFER_NOMAD_ADDR: 'https://nomad.internal:4646',
      GOFER_NOMAD_TOKEN: 'a-token',
      GOFER_NOMAD_NAMESPACE: 'ci-builds',
      GOFER_NOMAD_REGION: 'eu',
      GOFER_NOMAD_DATACENTERS: ' dc1, dc2,,dc1 , eu-*',
      GOFER_NOMAD_NODE_POOL: 'gpu_large',
      GOFER_NOMAD_NETWORK_MODE: 'host',
      GOFER_NOMAD_CACERT: '/tls/ca.pem',
      GOFER_NOMAD_CLIENT_CERT: '/tls/cli.pem',
      GOFER_NOMAD_CLIENT_KEY: '/tls/cli-key.pem',
      GOFER_NOMAD_TLS_SERVER_NAME: 'server.eu.nomad',
      GOFER_NOMAD_SKIP_VERIFY: 'true',
    });
    expect(config.scheduler).toBe('nomad');
    expect(config.nomad).toEqual({
      address: 'https://nomad.internal:4646',
      token: 'a-token',
      namespace: 'ci-builds',
      region: 'eu',
      datacenters: ['dc1', 'dc2', 'eu-*'],
      nodePool: 'gpu_large',
      networkMode: 'host',
      tls: { caCert: '/tls/ca.pem', clientCert: '/tls/cli.pem', clientKey: '/tls/cli-key.pem', serverName: 'server.eu.nomad', skipVerify: true },
    });
    // An empty value is the default, as for every variable.
    expect(loadConfig({ GOFER_NOMAD_NETWORK_MODE: '', GOFER_NOMAD_DATACENTERS: '' }).nomad).toMatchObject({ networkMode: undefined, datacenters: ['*'] });
  });

  it('never echoes a secret in its message: a URL keeps all but its password', () => {
    expect(() => loadConfig({ GOFER_REDIS_URL: 'redis://:hunter2@127.0.0.1:port' })).toThrow(ConfigError);
    try {
      loadConfig({ GOFER_REDIS_URL: 'redis://:hunter2@127.0.0.1:port', GOFER_OBJECT_STORE: 's3://UPPER?password=hunter2' });
    } catch (error) {
      expect((error as Error).message).toMatch(/GOFER_REDIS_URL="redis:\/\/:\*\*\*@127\.0\.0\.1:port"/);
      expect((error as Error).message).not.toContain('hunter2');
    }
  });
  it.each(bad)('rejects %j naming the variable', (env, message) => {
    expect(() => loadConfig(env)).toThrow(ConfigError);
    expect(() => loadConfig(env)).toThrow(message);
  });

  it('reports every bad variable at once', () => {
    try {
      loadConfig({ GOFER_GRPC_ADDR: 'x', GOFER_LOG_LEVEL: 'loud' });
      expect.unreachable();
    } catch (error) {
      expect((error as Error).message).toContain('GOFER_GRPC_ADDR');
      expect((error as Error).message).toContain('GOFER_LOG_LEVEL');
    }
  });
});

describe('splitAddress', () => {
  it.each([
    ['127.0.0.1:8080', '127.0.0.1', 8080],
    ['[::1]:9000', '::1', 9000],
    ['localhost:1', 'localhost', 1],
  ])('%s', (address, host, port) => expect(splitAddress(address)).toEqual({ host, port }));
});

describe('CONFIG_VARIABLES', () => {
  it("matches the README's Service configuration table, one row per variable the schema declares", () => {
    const readme = readFileSync(resolve(import.meta.dirname, '../../../README.md'), 'utf8');
    const section = readme.slice(readme.indexOf('## Service configuration'), readme.indexOf('### Limits'));
    // The first cell of each table row names the variable(s) it documents.
    const documented = [...section.matchAll(/^\| ([^|]+) \|/gm)].flatMap(([, cell]) => cell!.match(/GOFER_[A-Z0-9_]+/g) ?? []);
    expect([...documented].sort()).toEqual([...CONFIG_VARIABLES].sort());
  });
});
