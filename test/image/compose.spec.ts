// docker-compose.yml's own images cannot be pulled here (test/image/compose-up.spec.ts runs it on local
// stand-ins), so this checks what would break it silently: that Compose v1, the Compose Specification's
// schema (what v2 validates against) and promtool accept the files,
// the build target, the shared image, Gofer's own config validation of each service's environment, the
// entry point's upstreams against the API replicas and its TLS certificate against the compose mounts
// (deploy/nginx/gofer.conf; nginx itself runs it in test/deploy/nginx-entry-point.spec.ts and
// test/web/entry-point.spec.ts), Prometheus' targets against the Gofer services, Grafana's mounts
// against its provisioning files, and restart policies, health checks and published ports.
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, posix } from 'node:path';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { loadConfig, splitAddress } from '@gofer/config';
import { DEFAULT_HOST } from '../../apps/gofer/src/cli/context.js';
import { ROOT } from '../support/gofer-process.js';
import { directives, parseNginxConfig, type NginxDirective } from '../support/nginx.js';

interface Service {
  image?: string;
  build?: { context: string; target?: string };
  command?: string[];
  environment?: Record<string, string>;
  networks?: string[] | Record<string, { aliases?: string[] } | null>;
  user?: string;
  volumes?: string[];
  ports?: string[];
  restart?: string;
  healthcheck?: { test: string[] };
  deploy?: { replicas?: number };
  entrypoint?: string[];
  working_dir?: string;
  depends_on?: Record<string, { condition: string }>;
}

/** The part of Ajv's API used here (ajv comes with the dclint devDependency). */
type AjvClass = new (options: { allErrors: boolean; strict: boolean }) => {
  compile(schema: object): ((data: unknown) => boolean) & { errors?: Array<{ instancePath: string; message?: string }> | null };
};

const compose = parse(readFileSync(join(ROOT, 'docker-compose.yml'), 'utf8'), { merge: true }) as {
  services: Record<string, Service>;
  networks: Record<string, { name?: string }>;
};
const dockerfile = readFileSync(join(ROOT, 'Dockerfile'), 'utf8');
const gofer = Object.entries(compose.services).filter(([, s]) => s.command?.[0] === 'service');
const roles = (s: Service) => s.command![s.command!.indexOf('--roles') + 1]!.split(',');
const apis = gofer.filter(([, s]) => roles(s).includes('api'));
const workers = gofer.filter(([, s]) => roles(s).includes('worker'));
const imageEnv = Object.fromEntries(
  [...dockerfile.matchAll(/^\s*(GOFER_[A-Z_]+)=(\S+?)\s*\\?$/gm)].map((m) => [m[1], m[2]]),
);
const GRPC_PORT = splitAddress(imageEnv.GOFER_GRPC_ADDR!).port;
const HTTP_PORT = splitAddress(imageEnv.GOFER_HTTP_ADDR!).port;

/** `./deploy/x:/target[:ro]` → { source: 'deploy/x', target: '/target' } for bind mounts of this checkout. */
function bindMounts(service: Service): Array<{ source: string; target: string }> {
  return (service.volumes ?? [])
    .filter((v) => v.startsWith('./'))
    .map((v) => v.split(':'))
    .map(([source, target]) => ({ source: posix.normalize(source!), target: target! }));
}

/** The service that bind-mounts a file or directory of this checkout, with where it mounts it. */
function mounting(source: string): { name: string; service: Service; target: string } {
  for (const [name, service] of Object.entries(compose.services)) {
    const mount = bindMounts(service).find((m) => m.source === source);
    if (mount) return { name, service, target: mount.target };
  }
  throw new Error(`no service mounts ./${source}`);
}

/** `127.0.0.1:8080:8080` → { host: '127.0.0.1', published: 8080, container: 8080 }. */
function ports(service: Service): Array<{ host: string; published: number; container: number }> {
  return (service.ports ?? []).map((p) => {
    const [host, published, container] = p.split(':');
    return { host: host!, published: Number(published), container: Number(container) };
  });
}

/** nginx time (`90`, `30s`, `1h30m`, `500ms`) in seconds. */
function nginxSeconds(text: string): number {
  const units: Record<string, number> = { ms: 0.001, s: 1, m: 60, h: 3600, d: 86_400, w: 604_800 };
  let seconds = 0;
  for (const [, n, unit] of text.matchAll(/(\d+)(ms|s|m|h|d|w)?/g)) seconds += Number(n) * units[unit ?? 's']!;
  return seconds;
}

const single = (list: NginxDirective[], name: string): NginxDirective => {
  const found = directives(list, name);
  expect(found, name).toHaveLength(1);
  return found[0]!;
};

describe('docker-compose.yml', () => {
  it('is a file Compose accepts (docker-compose config)', () => {
    // Debian's docker-compose (v1), which .ci/run installs: it validates the file against the schema.
    execFileSync('docker-compose', ['-f', join(ROOT, 'docker-compose.yml'), 'config', '-q'], { cwd: ROOT, stdio: 'pipe' });
  });

  it('is valid against the Compose Specification schema, which docker compose (v2) checks files against', () => {
    // v2 cannot be installed here; dclint ships the compose-spec repository's schema (schemas/compose.schema.json).
    const require = createRequire(import.meta.url);
    const schemaFile = join(ROOT, 'node_modules/dclint/schemas/compose.schema.json');
    expect(existsSync(schemaFile), `${schemaFile}: the dclint devDependency is not installed (npm ci)`).toBe(true);
    const { $schema: draft, ...schema } = JSON.parse(readFileSync(schemaFile, 'utf8')) as Record<string, unknown>;
    expect(draft).toMatch(/draft-07/); // what Ajv's default class implements; its URL is not Ajv's spelling
    const { default: Ajv } = require('ajv') as { default: AjvClass };
    // Not strict: the schema carries keywords (`deprecated`) and formats that only annotate.
    const validate = new Ajv({ allErrors: true, strict: false }).compile(schema);
    const errors = (document: unknown) => (validate(document) ? [] : validate.errors!.map((e) => `${e.instancePath} ${e.message}`));
    expect(errors(compose)).toEqual([]);
    // …and it does reject what Compose would: a misspelt key, a condition Compose does not know.
    const broken = structuredClone(compose) as unknown as { services: Record<string, Record<string, unknown>> };
    broken.services.redis!.healthcheck = { tst: ['CMD', 'true'] };
    (broken.services.gofer!.depends_on as Record<string, { condition: string }>)['api-1']!.condition = 'service_ready';
    expect(errors(broken)).toEqual(expect.arrayContaining([
      '/services/redis/healthcheck must NOT have additional properties',
      '/services/gofer/depends_on/api-1/condition must be equal to one of the allowed values',
    ]));
  });

  it('runs two API replicas and two workers of one image, built once from a Dockerfile target', () => {
    expect(gofer.every(([, s]) => s.image === 'gofer:local')).toBe(true);
    const builders = gofer.filter(([, s]) => s.build);
    expect(builders).toHaveLength(1);
    const target = builders[0]![1].build!.target!;
    expect(dockerfile).toMatch(new RegExp(`^FROM \\S+ AS ${target}$`, 'm'));
    const count = (list: typeof gofer) => list.reduce((n, [, s]) => n + (s.deploy?.replicas ?? 1), 0);
    expect({ api: count(apis), worker: count(workers) }).toEqual({ api: 2, worker: 2 });
  });

  it("gives every Gofer service an environment that Gofer's config accepts", () => {
    for (const [name, service] of gofer) {
      const config = loadConfig({ ...imageEnv, ...service.environment });
      expect(config.databaseUrl, name).toMatch(/@postgres:5432\//);
      expect(config.redisUrl, name).toBe('redis://redis:6379');
    }
  });

  it('gives task containers the entry point: the advertised alias is its alone, on their network', () => {
    const entry = mounting('deploy/nginx/gofer.conf');
    for (const [name, worker] of workers) {
      const config = loadConfig({ ...imageEnv, ...worker.environment });
      expect(worker.volumes, name).toContain('/var/run/docker.sock:/var/run/docker.sock');
      const network = Object.entries(compose.networks).find(([, n]) => n.name === config.dockerNetwork);
      expect(network, `a network named ${config.dockerNetwork}`).toBeDefined();
      const advertised = splitAddress(config.advertiseAddr);
      expect(advertised.port).toBe(GRPC_PORT);
      const attachment = (entry.service.networks as Record<string, { aliases?: string[] }>)[network![0]];
      expect(attachment?.aliases, `${entry.name} on ${network![0]}`).toContain(advertised.host);
      // Docker's DNS would answer the alias with every container carrying it, replicas and entry point alike.
      for (const [other, service] of Object.entries(compose.services)) {
        if (other === entry.name || Array.isArray(service.networks) || !service.networks) continue;
        expect(service.networks[network![0]]?.aliases ?? [], other).not.toContain(advertised.host);
      }
    }
  });

  it('runs Redis with AOF and noeviction, as Gofer requires', () => {
    const command = compose.services.redis!.command as unknown as string[];
    expect(command.join(' ')).toMatch(/--maxmemory-policy noeviction/);
    expect(command.join(' ')).toMatch(/--appendonly yes/);
  });

  it('restarts every long-running service and checks its health (one-shot jobs excepted)', () => {
    expect(dockerfile).toMatch(/^HEALTHCHECK /m); // the gofer:local services' health check
    const longRunning = Object.entries(compose.services).filter(([, s]) => s.restart !== 'no');
    expect(longRunning.map(([name]) => name)).toEqual(expect.arrayContaining(['gofer', 'prometheus', 'grafana', ...gofer.map(([n]) => n)]));
    for (const [name, service] of longRunning) {
      expect(service.restart, name).toBe('unless-stopped');
      expect(service.healthcheck?.test ?? (service.image === 'gofer:local' ? 'image' : undefined), name).toBeDefined();
    }
  });

  it('publishes on loopback only, each host port once', () => {
    const published = Object.entries(compose.services).flatMap(([name, s]) => ports(s).map((p) => ({ name, ...p })));
    for (const p of published) expect(p.host, p.name).toBe('127.0.0.1');
    const hostPorts = published.map((p) => p.published);
    expect(new Set(hostPorts).size).toBe(hostPorts.length);
  });
});

describe('the entry point (deploy/nginx/gofer.conf)', () => {
  const entry = mounting('deploy/nginx/gofer.conf');
  const conf = parseNginxConfig(readFileSync(join(ROOT, 'deploy/nginx/gofer.conf'), 'utf8'));
  const servers = directives(conf, 'server').map((s) => s.block!);
  const upstreams = new Map(directives(conf, 'upstream').map((u) => [u.args[0]!, u.block!]));
  const listening = (port: number) => {
    const server = servers.find((s) => directives(s, 'listen').some((l) => l.args[0] === String(port)));
    expect(server, `a server listening on ${port}`).toBeDefined();
    return server!;
  };
  /** The `server` addresses of the upstream a `grpc_pass`/`proxy_pass` URL names. */
  const upstreamOf = (url: string) => {
    const block = upstreams.get(url.replace(/^\w+:\/\//, ''));
    expect(block, url).toBeDefined();
    return directives(block!, 'server').map((s) => s.args[0]);
  };
  /** The locations of a server, with the pass directive each has. */
  const passes = (server: NginxDirective[], kind: string) =>
    directives(server, 'location').flatMap((l) => directives(l.block!, kind).map((p) => ({ location: l.args.join(' '), url: p.args[0]! })));

  it('is mounted into the nginx image and publishes the CLI default address', () => {
    expect(entry.service.image).toMatch(/^nginx:/);
    expect(entry.target).toBe('/etc/nginx/conf.d/default.conf');
    const published = ports(entry.service);
    expect(published).toContainEqual({ host: '127.0.0.1', published: splitAddress(DEFAULT_HOST).port, container: GRPC_PORT });
    expect(published).toContainEqual({ host: '127.0.0.1', published: HTTP_PORT, container: HTTP_PORT });
  });

  it('balances gRPC over HTTP/2 across every API replica, and nothing else', () => {
    const grpc = listening(GRPC_PORT);
    expect(single(grpc, 'listen').args).toContain('http2');
    const pass = passes(grpc, 'grpc_pass');
    expect(pass.length).toBeGreaterThan(0);
    for (const { url } of pass) {
      expect(upstreamOf(url).sort()).toEqual(apis.map(([name]) => `${name}:${GRPC_PORT}`).sort());
    }
  });

  it('balances the web UI, its browser API, health and webhooks across every API replica, but not /metrics', () => {
    const http = listening(HTTP_PORT);
    const pass = passes(http, 'proxy_pass');
    expect(pass.map((p) => p.location).sort()).toEqual(['/api/external/', '/rpc/', '/ui/', '= /', '= /healthz', '= /readyz']);
    for (const { url } of pass) {
      expect(upstreamOf(url).sort()).toEqual(apis.map(([name]) => `${name}:${HTTP_PORT}`).sort());
    }
    const metrics = directives(http, 'location').find((l) => l.args.join(' ') === '= /metrics');
    expect(single(metrics!.block!, 'return').args[0]).toBe('404');
  });

  it('serves the same over TLS with HTTP/2, published on loopback, with the certificate compose makes or mounts', () => {
    const http = listening(HTTP_PORT);
    const tls = directives(http, 'listen').filter((l) => l.args.includes('ssl'));
    expect(tls, 'one TLS listen beside the HTTP port').toHaveLength(1);
    expect(tls[0]!.args).toContain('http2');
    const port = Number(tls[0]!.args[0]);
    expect(ports(entry.service)).toContainEqual({ host: '127.0.0.1', published: port, container: port });
    // The certificate and key lie in the directory the nginx service mounts from deploy/nginx/certs, which
    // the one-shot service fills (when empty) before nginx starts.
    const certs = bindMounts(entry.service).find((m) => m.source === 'deploy/nginx/certs');
    expect(certs, 'the nginx service mounts deploy/nginx/certs').toBeDefined();
    const files = ['ssl_certificate', 'ssl_certificate_key'].map((name) => single(http, name).args[0]!);
    for (const file of files) expect(posix.dirname(file), file).toBe(certs!.target);
    const [name, maker] = Object.entries(compose.services).find(([, s]) =>
      s !== entry.service && bindMounts(s).some((m) => m.source === 'deploy/nginx/certs'))!;
    const target = bindMounts(maker).find((m) => m.source === 'deploy/nginx/certs')!.target;
    expect(maker.working_dir, name).toBe(target);
    for (const file of files) expect(maker.entrypoint!.join(' '), name).toContain(` ${posix.basename(file)}`);
    expect(maker.restart, name).toBe('no');
    expect(entry.service.depends_on?.[name], name).toEqual({ condition: 'service_completed_successfully' });
  });

  it('passes browser API streams on unbuffered and keeps quiet follows open', () => {
    const rpc = directives(listening(HTTP_PORT), 'location').find((l) => l.args.join(' ') === '/rpc/')!.block!;
    expect(single(rpc, 'proxy_buffering').args).toEqual(['off']);
    expect(nginxSeconds(single(rpc, 'proxy_read_timeout').args[0]!)).toBeGreaterThanOrEqual(3600);
  });

  it('keeps quiet followed streams open, passes uploads of any size, retries only calls never sent', () => {
    const grpc = listening(GRPC_PORT);
    // Past an hour of silence, not nginx's 60 s default.
    expect(nginxSeconds(single(grpc, 'grpc_read_timeout').args[0]!)).toBeGreaterThanOrEqual(3600);
    expect(nginxSeconds(single(grpc, 'grpc_send_timeout').args[0]!)).toBeGreaterThanOrEqual(3600);
    // A gRPC request body is the whole client stream: an object upload is up to GOFER_OBJECT_MAX_BYTES.
    const limit = single(grpc, 'client_max_body_size').args[0]!;
    expect(limit === '0' || nginxBytes(limit) >= loadConfig(imageEnv).objectMaxBytes, limit).toBe(true);
    const retry = single(grpc, 'grpc_next_upstream').args;
    expect(retry).toContain('error');
    expect(retry).not.toContain('non_idempotent');
  });
});

/** nginx size (`64m`, `1g`, `512k`, `100`) in bytes. */
function nginxBytes(text: string): number {
  const [, n, unit] = /^(\d+)([kmg]?)$/i.exec(text)!;
  return Number(n) * { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 }[unit!.toLowerCase() as '' | 'k' | 'm' | 'g'];
}

describe('Prometheus (deploy/prometheus/prometheus.yml)', () => {
  const mount = mounting('deploy/prometheus/prometheus.yml');
  const config = parse(readFileSync(join(ROOT, 'deploy/prometheus/prometheus.yml'), 'utf8')) as {
    scrape_configs: Array<{
      job_name: string;
      metrics_path?: string;
      static_configs?: Array<{ targets: string[] }>;
      dns_sd_configs?: Array<{ names: string[]; type?: string; port?: number }>;
    }>;
  };

  it('is a configuration promtool accepts', () => {
    execFileSync('promtool', ['check', 'config', join(ROOT, 'deploy/prometheus/prometheus.yml')], { stdio: 'pipe' });
  });

  it('is the configuration the prometheus service runs', () => {
    expect(mount.name).toBe('prometheus');
    expect(mount.service.command).toContain(`--config.file=${mount.target}`);
    expect(ports(mount.service)).toContainEqual({ host: '127.0.0.1', published: 9090, container: 9090 });
  });

  it("scrapes every Gofer process's own /metrics: each replica, every scaled worker, and itself", () => {
    const statics = config.scrape_configs.flatMap((c) =>
      (c.static_configs ?? []).flatMap((s) => s.targets.map((t) => ({ target: t, path: c.metrics_path ?? '/metrics' }))));
    const dns = config.scrape_configs.flatMap((c) =>
      (c.dns_sd_configs ?? []).flatMap((d) => d.names.map((name) => ({ name, type: d.type ?? 'SRV', port: d.port, path: c.metrics_path ?? '/metrics' }))));
    for (const [name, service] of gofer) {
      if (service.deploy?.replicas !== undefined) {
        // Scaled with --scale: only Docker's DNS (an A record per replica) finds every replica.
        expect(dns, name).toContainEqual({ name, type: 'A', port: HTTP_PORT, path: '/metrics' });
      } else {
        expect(statics, name).toContainEqual({ target: `${name}:${HTTP_PORT}`, path: '/metrics' });
      }
    }
    expect(statics.map((s) => s.target)).toContain('localhost:9090');
  });
});

describe('Grafana (deploy/grafana/)', () => {
  const grafana = compose.services.grafana!;
  const mounts = bindMounts(grafana);
  const provisioning = join(ROOT, 'deploy/grafana/provisioning');
  const yamlIn = (dir: string) =>
    readdirSync(join(provisioning, dir)).filter((f) => /\.ya?ml$/.test(f)).map((f) => parse(readFileSync(join(provisioning, dir, f), 'utf8')));

  it('mounts the provisioning files where Grafana reads them, and the dashboards where they say', () => {
    expect(mounts).toContainEqual({ source: 'deploy/grafana/provisioning', target: '/etc/grafana/provisioning' });
    const paths = yamlIn('dashboards').flatMap((p: { providers: Array<{ options: { path: string } }> }) => p.providers.map((x) => x.options.path));
    expect(paths.length).toBeGreaterThan(0);
    for (const path of paths) expect(mounts).toContainEqual({ source: 'deploy/grafana/dashboards', target: path });
    expect(readdirSync(join(ROOT, 'deploy/grafana/dashboards'))).toContain('gofer.json');
    const home = grafana.environment!.GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH!;
    expect(existsSync(join(ROOT, 'deploy/grafana/dashboards', posix.relative(paths[0]!, home)))).toBe(true);
  });

  it("points its datasource at the prometheus service's port", () => {
    const urls = yamlIn('datasources').flatMap((d: { datasources: Array<{ url: string }> }) => d.datasources.map((x) => x.url));
    const prometheusPort = ports(compose.services.prometheus!)[0]!.container;
    expect(urls).toEqual([`http://prometheus:${prometheusPort}`]);
  });

  it('lets anyone view, and takes the admin password from the environment', () => {
    expect(grafana.environment).toMatchObject({ GF_AUTH_ANONYMOUS_ENABLED: 'true', GF_AUTH_ANONYMOUS_ORG_ROLE: 'Viewer' });
    expect(grafana.environment!.GF_SECURITY_ADMIN_PASSWORD).toMatch(/^\$\{[A-Z_]+:-.+\}$/);
  });
});
