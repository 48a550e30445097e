// docker-compose.yml cannot run here (its Postgres and Redis images cannot be pulled), so this checks
// what would break it silently: the build target, the shared image, Gofer's own config validation of
// each service's environment, and the network/alias pair that lets task containers reach the API.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { loadConfig, splitAddress } from '@gofer/config';
import { ROOT } from '../support/gofer-process.js';

interface Service {
  image?: string;
  build?: { context: string; target?: string };
  command?: string[];
  environment?: Record<string, string>;
  networks?: string[] | Record<string, { aliases?: string[] } | null>;
  user?: string;
  volumes?: string[];
  deploy?: { replicas?: number };
}

const compose = parse(readFileSync(join(ROOT, 'docker-compose.yml'), 'utf8'), { merge: true }) as {
  services: Record<string, Service>;
  networks: Record<string, { name?: string }>;
};
const dockerfile = readFileSync(join(ROOT, 'Dockerfile'), 'utf8');
const gofer = Object.entries(compose.services).filter(([, s]) => s.command?.[0] === 'service');
const roles = (s: Service) => s.command![s.command!.indexOf('--roles') + 1]!.split(',');
const imageEnv = Object.fromEntries(
  [...dockerfile.matchAll(/^\s*(GOFER_[A-Z_]+)=(\S+?)\s*\\?$/gm)].map((m) => [m[1], m[2]]),
);

describe('docker-compose.yml', () => {
  it('runs two API replicas and two workers of one image, built once from a Dockerfile target', () => {
    expect(gofer.every(([, s]) => s.image === 'gofer:local')).toBe(true);
    const builders = gofer.filter(([, s]) => s.build);
    expect(builders).toHaveLength(1);
    const target = builders[0]![1].build!.target!;
    expect(dockerfile).toMatch(new RegExp(`^FROM \\S+ AS ${target}$`, 'm'));
    const count = (role: string) =>
      gofer.filter(([, s]) => roles(s).includes(role)).reduce((n, [, s]) => n + (s.deploy?.replicas ?? 1), 0);
    expect({ api: count('api'), worker: count('worker') }).toEqual({ api: 2, worker: 2 });
  });

  it("gives every Gofer service an environment that Gofer's config accepts", () => {
    for (const [name, service] of gofer) {
      const config = loadConfig({ ...imageEnv, ...service.environment });
      expect(config.databaseUrl, name).toMatch(/@postgres:5432\//);
      expect(config.redisUrl, name).toBe('redis://redis:6379');
    }
  });

  it('lets task containers reach the API: their network carries the advertised alias', () => {
    const workers = gofer.filter(([, s]) => roles(s).includes('worker'));
    const apis = gofer.filter(([, s]) => roles(s).includes('api'));
    for (const [name, worker] of workers) {
      const config = loadConfig({ ...imageEnv, ...worker.environment });
      expect(worker.volumes, name).toContain('/var/run/docker.sock:/var/run/docker.sock');
      const network = Object.entries(compose.networks).find(([, n]) => n.name === config.dockerNetwork);
      expect(network, `a network named ${config.dockerNetwork}`).toBeDefined();
      const advertised = splitAddress(config.advertiseAddr);
      expect(advertised.port).toBe(splitAddress(imageEnv.GOFER_GRPC_ADDR!).port);
      for (const [apiName, api] of apis) {
        const attachment = (api.networks as Record<string, { aliases?: string[] }>)[network![0]];
        expect(attachment?.aliases, `${apiName} on ${network![0]}`).toContain(advertised.host);
      }
    }
  });

  it('runs Redis with AOF and noeviction, as Gofer requires', () => {
    const command = compose.services.redis!.command as unknown as string[];
    expect(command.join(' ')).toMatch(/--maxmemory-policy noeviction/);
    expect(command.join(' ')).toMatch(/--appendonly yes/);
  });
});
