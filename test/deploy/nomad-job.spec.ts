// deploy/nomad/gofer.nomad.hcl, checked without Nomad (no Nomad binary is available where this project
// is built and tested): the file is parsed as HCL by @cdktn/hcl2json (HashiCorp's HCL parser compiled
// to WebAssembly) and its shape asserted: an `api` and a `worker` group of the gofer image with their
// roles, ports matching the image's GOFER_GRPC_ADDR and GOFER_HTTP_ADDR, /readyz checks, rolling
// `update` and `restart` stanzas, the Docker socket and a graceful kill for workers, and an environment
// (variables, `env` blocks and the secrets template) that Gofer's own loadConfig accepts.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { CONFIG_VARIABLES, loadConfig, splitAddress } from '@gofer/config';
import { parseDuration } from '@gofer/pipeline';
import { ROOT } from '../support/gofer-process.js';

// Required, not imported: the package's type declarations pull in the DOM library (`/// <reference
// lib="dom" />`), which would change global types such as fetch's for the whole project's type check.
const { parse } = createRequire(import.meta.url)('@cdktn/hcl2json') as {
  parse(filename: string, contents: string): Promise<Record<string, unknown>>;
};

const FILE = join(ROOT, 'deploy/nomad/gofer.nomad.hcl');
const dockerfile = readFileSync(join(ROOT, 'Dockerfile'), 'utf8');
const imageEnv = Object.fromEntries(
  [...dockerfile.matchAll(/^\s*(GOFER_[A-Z_]+)=(\S+?)\s*\\?$/gm)].map((m) => [m[1], m[2]]),
);
const GRPC_PORT = splitAddress(imageEnv.GOFER_GRPC_ADDR!).port;
const HTTP_PORT = splitAddress(imageEnv.GOFER_HTTP_ADDR!).port;

/** What an operator would pass for the variables without a default (`-var`). */
const REQUIRED_VARS: Record<string, string> = { advertise_addr: 'gofer-lb.internal:8080', object_store: 's3://gofer' };
/** What the Nomad variable nomad/jobs/gofer would hold, key by key. */
const NOMAD_VARIABLE: Record<string, string> = {
  database_url: 'postgres://gofer:secret@db.internal:5432/gofer',
  redis_url: 'redis://redis.internal:6379',
  s3_access_key_id: 'gofer',
  s3_secret_access_key: 'secret',
  encryption_key: Buffer.alloc(32, 1).toString('base64'),
};
/** Values Nomad interpolates at run time. */
const RUNTIME: Record<string, string> = { NOMAD_SHORT_ALLOC_ID: '1a2b3c4d', 'node.unique.id': 'node-1' };
/** Variables whose values are secrets: they must come from the template, never from the job file. */
const SECRETS = ['GOFER_DATABASE_URL', 'GOFER_REDIS_URL', 'GOFER_S3_SECRET_ACCESS_KEY', 'GOFER_ENCRYPTION_KEY', 'GOFER_PREVIOUS_ENCRYPTION_KEYS'];

// hcl2json's shape: every block is a list of bodies, labelled blocks are maps of label → list.
type Body = Record<string, any>;
const one = (list: Body[] | undefined, what: string): Body => {
  expect(list, what).toHaveLength(1);
  return list![0]!;
};
const seconds = (text: string) => parseDuration(text)! / 1000;

describe('deploy/nomad/gofer.nomad.hcl', () => {
  let variables: Record<string, Body>;
  let job: Body;
  let groups: Record<string, Body>;
  /** Resolves `${var.x}` and Nomad's run-time `${…}` the way Nomad would for this test's inputs. */
  let resolve: (value: unknown) => unknown;

  beforeAll(async () => {
    const parsed = (await parse('gofer.nomad.hcl', readFileSync(FILE, 'utf8'))) as unknown as { variable: Record<string, Body[]>; job: Record<string, Body[]> };
    variables = Object.fromEntries(Object.entries(parsed.variable).map(([name, list]) => [name, one(list, `variable ${name}`)]));
    expect(Object.keys(parsed.job)).toEqual(['gofer']);
    job = one(parsed.job.gofer, 'job gofer');
    groups = Object.fromEntries(Object.entries(job.group as Record<string, Body[]>).map(([name, list]) => [name, one(list, `group ${name}`)]));
    resolve = (value) => {
      if (typeof value !== 'string') return value;
      const whole = /^\$\{var\.(\w+)\}$/.exec(value);
      const valueOf = (name: string) => {
        expect(variables[name], `variable "${name}" is declared`).toBeDefined();
        return variables[name]!.default ?? REQUIRED_VARS[name];
      };
      if (whole) return valueOf(whole[1]!); // keeps its type (a number, a list)
      return value.replace(/\$\{([^}]+)\}/g, (_m, expr: string) => {
        const name = /^var\.(\w+)$/.exec(expr)?.[1];
        const resolved = name ? valueOf(name) : RUNTIME[expr];
        expect(resolved, `\${${expr}}`).toBeDefined();
        return String(resolved);
      });
    };
  });

  /** The group's only task, with its docker config. */
  const taskOf = (group: string) => {
    const tasks = groups[group]!.task as Record<string, Body[]>;
    expect(Object.keys(tasks), `tasks of ${group}`).toHaveLength(1);
    const task = one(Object.values(tasks)[0], `task of ${group}`);
    return { task, config: one(task.config, `config of ${group}`) };
  };
  /** The group's port labels → container port (`to`). */
  const portsOf = (group: string): Record<string, number> => {
    const network = one(groups[group]!.network, `network of ${group}`);
    return Object.fromEntries(Object.entries(network.port as Record<string, Body[]>).map(([label, list]) => [label, one(list, label).to]));
  };
  /** The environment a group's task runs with: the image's, its env block's and its template's. */
  const environmentOf = (group: string) => {
    const { task } = taskOf(group);
    const env = Object.fromEntries(Object.entries(one(task.env, `env of ${group}`)).map(([k, v]) => [k, String(resolve(v))]));
    const rendered: Record<string, string> = {};
    for (const template of task.template as Body[]) {
      expect(template.env, 'templates are read as environment').toBe(true);
      expect(template.destination).toMatch(/^secrets\//);
      const match = /^\{\{ with nomadVar "([^"]+)" -?\}\}\n([\s\S]*?)\{\{-? end \}\}\n?$/.exec(template.data as string);
      expect(match, template.data).not.toBeNull();
      // Readable by the job's tasks through their workload identity without any policy.
      expect(match![1]).toBe('nomad/jobs/gofer');
      for (const line of match![2]!.split('\n').filter(Boolean)) {
        const [, key, field] = /^(GOFER_[A-Z0-9_]+)=\{\{ \.(\w+) \}\}$/.exec(line) ?? [];
        expect(key, line).toBeDefined();
        expect(NOMAD_VARIABLE[field!], `the Nomad variable's ${field}`).toBeDefined();
        rendered[key!] = NOMAD_VARIABLE[field!]!;
      }
    }
    return { env, rendered };
  };

  it('is a service job with an api group and a worker group, two of each by default', () => {
    expect(job.type).toBe('service');
    expect(Object.keys(groups).sort()).toEqual(['api', 'worker']);
    expect(resolve(groups.api!.count)).toBe(2);
    expect(resolve(groups.worker!.count)).toBe(2);
  });

  it.each(['api', 'worker'])('runs the gofer image in the %s role with the docker driver', (group) => {
    const { task, config } = taskOf(group);
    expect(task.driver).toBe('docker');
    expect(config.image).toBe('${var.image}');
    expect(config.args).toEqual(['service', 'start', '--roles', group]);
    expect([...config.ports].sort()).toEqual(Object.keys(portsOf(group)).sort());
  });

  it("maps the image's gRPC and HTTP ports (GOFER_GRPC_ADDR, GOFER_HTTP_ADDR)", () => {
    expect(portsOf('api')).toEqual({ grpc: GRPC_PORT, http: HTTP_PORT });
    expect(portsOf('worker')).toEqual({ http: HTTP_PORT });
  });

  it.each(['api', 'worker'])('registers the %s group with HTTP checks on /readyz', (group) => {
    const ports = portsOf(group);
    const services = groups[group]!.service as Body[];
    expect(services.length).toBeGreaterThan(0);
    for (const service of services) {
      const checks = service.check as Body[];
      expect(checks.length, service.name).toBeGreaterThan(0);
      for (const check of checks) {
        expect({ type: check.type, path: check.path }).toEqual({ type: 'http', path: '/readyz' });
        expect(ports[check.port ?? service.port], `${service.name}'s check port`).toBe(HTTP_PORT);
        expect(seconds(check.timeout)).toBeLessThan(seconds(check.interval));
      }
    }
    if (group === 'api') expect(services.map((s) => ports[s.port])).toContain(GRPC_PORT);
  });

  it.each(['api', 'worker'])('rolls the %s group one allocation at a time, on checks, reverting a bad version', (group) => {
    const update = one(groups[group]!.update, `update of ${group}`);
    expect(update).toMatchObject({ max_parallel: 1, health_check: 'checks', auto_revert: true });
    expect(seconds(update.min_healthy_time)).toBeGreaterThan(0);
    expect(seconds(update.healthy_deadline)).toBeGreaterThan(seconds(update.min_healthy_time));
    expect(seconds(update.progress_deadline)).toBeGreaterThan(seconds(update.healthy_deadline));
    const restart = one(groups[group]!.restart, `restart of ${group}`);
    expect(restart.attempts).toBeGreaterThan(0);
    expect(['delay', 'fail']).toContain(restart.mode);
    const { task } = taskOf(group);
    expect(task.resources).toBeDefined();
  });

  it('gives workers the Docker socket and time to hand their attempts back on SIGTERM', () => {
    const { task, config } = taskOf('worker');
    expect(config.volumes).toContain('/var/run/docker.sock:/var/run/docker.sock');
    expect(task.kill_signal).toBe('SIGTERM');
    // Past Docker's 10 s default, within the Nomad client's default max_kill_timeout (30 s), which caps it.
    expect(seconds(task.kill_timeout)).toBeGreaterThan(10);
    expect(seconds(task.kill_timeout)).toBeLessThanOrEqual(30);
    expect(taskOf('api').config.volumes).toBeUndefined();
  });

  it.each(['api', 'worker'])("runs the %s group with an environment Gofer's config accepts, secrets from the template", (group) => {
    const { env, rendered } = environmentOf(group);
    for (const key of [...Object.keys(env), ...Object.keys(rendered)]) expect(CONFIG_VARIABLES, key).toContain(key);
    for (const key of SECRETS) expect(env, `${key} in the env block`).not.toHaveProperty(key);
    const config = loadConfig({ ...imageEnv, ...env, ...rendered });
    expect(config.databaseUrl).toBe(NOMAD_VARIABLE.database_url);
    expect(config.encryptionKey).toBe(NOMAD_VARIABLE.encryption_key);
    expect(config.advertiseAddr).toBe(REQUIRED_VARS.advertise_addr);
    expect(config.objectStore).toMatch(/^s3:\/\//);
    // Task containers reach the API at the load balancer, on the gRPC port.
    expect(splitAddress(config.advertiseAddr).port).toBe(GRPC_PORT);
  });

  it('declares a default for every variable but those an operator must pass', () => {
    const required = Object.entries(variables).filter(([, v]) => v.default === undefined).map(([name]) => name);
    expect(required.sort()).toEqual(Object.keys(REQUIRED_VARS).sort());
  });
});
