// Postgres and Redis for `gofer service start` on a machine with only Node and Docker (README "The two
// commands"). When both roles run in this process, a URL is unset and nothing answers on its loopback
// port, the service is started from its official image as a container with a named volume; later starts
// reuse that container (starting it again if it was stopped). Ctrl-C leaves it running, for a fast next
// start; `gofer service dev rm` removes it. A cluster sets the URLs, so none of this ever runs there; nor
// does it on Nomad, or against a remote Docker engine (whose loopback is not this one).
import { randomBytes } from 'node:crypto';
import { connect } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { loadConfig, type GoferConfig } from '@gofer/config';
import { postgresAnswers } from '@gofer/dal';
import { dockerClient } from '@gofer/scheduler';
import type Docker from 'dockerode';
import { Redis } from 'ioredis';
import { StartupError } from './infrastructure.js';

/** What Gofer starts, and how it tells them apart from everything else on the engine. */
export type DevServiceKind = 'postgres' | 'redis';
const KINDS: readonly DevServiceKind[] = ['postgres', 'redis'];
const KIND_LABEL = 'gofer.dev-service';
const PORT_LABEL = 'gofer.dev-port';
/**
 * The service's generated password. Task containers share the engine's default bridge with it, so it
 * is not open to them; whoever can read a container's labels can run anything on the engine anyway.
 */
const PASSWORD_LABEL = 'gofer.dev-password';
/** How long a started service may take to accept connections (Postgres initialises its data on the first start). */
const READY_TIMEOUT_MS = 120_000;

interface KindSpec {
  title: string;
  urlVariable: 'GOFER_DATABASE_URL' | 'GOFER_REDIS_URL';
  /** Where Gofer finds it; `password` is the generated one of Gofer's own container. */
  url: (port: number, password?: string) => string;
  dataPath: string;
  containerPort: number;
  env: (password: string) => string[];
  /** The container's command; `port` is given when it shares the host's network and must listen there. */
  command: (hostPort: number | undefined, password: string) => string[] | undefined;
  ready: (url: string) => Promise<void>;
}

const SPECS: Record<DevServiceKind, KindSpec> = {
  postgres: {
    title: 'Postgres',
    urlVariable: 'GOFER_DATABASE_URL',
    url: (port, password) => `postgres://postgres${password ? `:${password}` : ''}@127.0.0.1:${port}/gofer`,
    dataPath: '/var/lib/postgresql/data',
    containerPort: 5432,
    env: (password) => [`POSTGRES_PASSWORD=${password}`, 'POSTGRES_DB=gofer'],
    command: (port) => (port === undefined ? undefined : ['postgres', '-c', 'listen_addresses=127.0.0.1', '-p', String(port)]),
    ready: (url) => postgresAnswers(url),
  },
  redis: {
    title: 'Redis',
    urlVariable: 'GOFER_REDIS_URL',
    url: (port, password) => `redis://${password ? `:${password}@` : ''}127.0.0.1:${port}`,
    dataPath: '/data',
    containerPort: 6379,
    env: () => [],
    // AOF, so queued work survives a restart; noeviction, which Gofer requires of any Redis.
    command: (port, password) => [
      'redis-server', '--appendonly', 'yes', '--maxmemory-policy', 'noeviction', '--requirepass', password,
      ...(port === undefined ? [] : ['--port', String(port), '--bind', '127.0.0.1']),
    ],
    ready: async (url) => {
      const redis = new Redis(url, { lazyConnect: true, connectTimeout: 2000, maxRetriesPerRequest: 0, retryStrategy: () => null });
      redis.on('error', () => undefined);
      try {
        await redis.connect();
        if ((await redis.ping()) !== 'PONG') throw new Error('no PONG');
      } finally {
        redis.disconnect();
      }
    },
  },
};

/** One of Gofer's development services as the engine has it. */
export interface DevService {
  kind: DevServiceKind;
  container: string;
  volume: string;
  image: string;
  port: number | undefined;
  state: string;
}

/**
 * Fills in GOFER_DATABASE_URL / GOFER_REDIS_URL of `env` where unset, starting (or reusing) the
 * development containers when nothing answers on their ports, saying so on `say`, one line each.
 * Returns `env` unchanged when the process does not run both roles or GOFER_DEV_SERVICES is off.
 */
export async function provideDevServices(roles: readonly string[], env: NodeJS.ProcessEnv, say: (line: string) => void): Promise<NodeJS.ProcessEnv> {
  const config = loadConfig(env);
  if (!wanted(config, roles)) return env;
  const out = { ...env };
  let engine: Engine | undefined;
  for (const kind of KINDS) {
    const spec = SPECS[kind];
    if (env[spec.urlVariable]) continue;
    const { port, image } = config.devServices[kind];
    out[spec.urlVariable] = spec.url(port);
    if (await answers(port)) {
      // Ours from an earlier start (said, so the user knows where the data is), or the user's own.
      const ours = await Engine.connect(config).then((found) => found.running(kind, port), () => undefined);
      if (!ours) continue;
      out[spec.urlVariable] = spec.url(port, ours.password);
      say(`using ${spec.title} in container ${ours.name} on 127.0.0.1:${port}, started earlier`);
      // A published port answers as soon as the container runs, before the server inside does.
      await waitReady(kind, out[spec.urlVariable]!, ours.name);
      continue;
    }
    engine ??= await Engine.connect(config, kind, port);
    const password = await engine.provide(kind, image, port, say);
    out[spec.urlVariable] = spec.url(port, password);
    await waitReady(kind, out[spec.urlVariable]!, engine.name(kind));
  }
  return out;
}

/**
 * Single-machine mode only: both roles in this process, with the Docker scheduler on a local engine (a
 * remote one publishes on its own loopback). Gofer's image sets GOFER_DEV_SERVICES=off: a container's
 * loopback is its own.
 */
function wanted(config: GoferConfig, roles: readonly string[]): boolean {
  if (config.devServices.mode === 'off' || !roles.includes('api') || !roles.includes('worker')) return false;
  return config.scheduler === 'docker' && !/^(tcp|http):/.test(config.dockerHost.trim());
}

/** The development containers of this configuration (GOFER_DEV_SERVICES_NAME), as the engine has them. */
export async function listDevServices(env: NodeJS.ProcessEnv = process.env): Promise<DevService[]> {
  const engine = await Engine.connect(loadConfig(env));
  return engine.list();
}

/** Stops the development containers (their data stays); returns the ones stopped. */
export async function stopDevServices(env: NodeJS.ProcessEnv = process.env): Promise<string[]> {
  const engine = await Engine.connect(loadConfig(env));
  return engine.stop();
}

/** Removes the development containers and, with `data`, their volumes; returns what was removed. */
export async function removeDevServices(options: { data: boolean }, env: NodeJS.ProcessEnv = process.env): Promise<string[]> {
  const engine = await Engine.connect(loadConfig(env));
  return engine.remove(options);
}

/** Whether anything accepts a TCP connection on 127.0.0.1:`port`. */
function answers(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    const done = (result: boolean) => {
      socket.destroy();
      resolve(result);
    };
    socket.setTimeout(1000, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

async function waitReady(kind: DevServiceKind, url: string, container: string): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      await SPECS[kind].ready(url);
      return;
    } catch (error) {
      last = error;
    }
    await sleep(500);
  }
  throw new StartupError(
    `${SPECS[kind].title} in container ${container} did not accept connections within ${READY_TIMEOUT_MS / 1000}s (${(last as Error)?.message ?? 'no answer'}): ` +
      `see \`docker logs ${container}\`. If Gofer itself runs in a container, its 127.0.0.1 is not the engine's: set ${SPECS[kind].urlVariable}`,
  );
}

/** The Docker engine, as far as the development services need it. */
class Engine {
  private constructor(
    private readonly docker: Docker,
    private readonly config: GoferConfig,
  ) {}

  /** Connects, or explains in one line that a Docker engine is needed (and, when starting, what for). */
  static async connect(config: GoferConfig, kind?: DevServiceKind, port?: number): Promise<Engine> {
    const { docker, address } = dockerClient(config.dockerHost);
    try {
      await docker.ping();
    } catch (error) {
      const why = kind
        ? `no ${SPECS[kind].title} answers on 127.0.0.1:${port} and ${SPECS[kind].urlVariable} is not set, so Gofer would start one in Docker, but`
        : 'Gofer';
      throw new StartupError(
        `${why} cannot reach a Docker engine at ${address} (${(error as Error).message}): Gofer needs Docker to run tasks. ` +
          'Install Docker Engine or Docker Desktop (https://docs.docker.com/get-docker/) and start it, or set GOFER_DOCKER_HOST to where it listens' +
          (kind ? `; or set ${SPECS[kind].urlVariable} to a ${SPECS[kind].title} of your own.` : '.'),
      );
    }
    return new Engine(docker, config);
  }

  name(kind: DevServiceKind): string {
    return `${this.config.devServices.name}-${kind}`;
  }

  /** On the host's network (the engine has no bridge, or tasks use it too), or published on loopback. */
  private get hostNetwork(): boolean {
    return this.config.dockerNetwork === 'host';
  }

  /** Makes sure Gofer's `kind` container runs; returns its password. */
  async provide(kind: DevServiceKind, image: string, port: number, say: (line: string) => void): Promise<string> {
    const name = this.name(kind);
    const title = SPECS[kind].title;
    const existing = await this.inspect(name);
    if (existing && existing.Config.Labels?.[KIND_LABEL] !== kind) {
      throw new StartupError(
        `a container named ${name} exists that Gofer did not make: Gofer leaves it alone. Rename or remove it, ` +
          'or set GOFER_DEV_SERVICES_NAME to another prefix for Gofer\'s own',
      );
    }
    if (existing) {
      const made = existing.Config.Labels?.[PORT_LABEL];
      if (made !== String(port)) {
        throw new StartupError(
          `container ${name} serves ${title} on port ${made ?? '(unknown)'}, not ${port} (GOFER_DEV_${kind.toUpperCase()}_PORT): ` +
            `set it back, or remove the container with \`gofer service dev rm\` (its data volume stays)`,
        );
      }
      if (existing.Config.Image !== image) {
        say(`note: container ${name} runs ${existing.Config.Image}, not GOFER_DEV_${kind.toUpperCase()}_IMAGE=${image}; \`gofer service dev rm\` (its data stays) makes a new one at the next start`);
      }
      // Running but not answering yet (just started by another Gofer), or stopped: started again.
      if (!existing.State.Running) await this.docker.getContainer(existing.Id).start().catch(alreadyStarted);
      say(`started ${title} again: container ${name} on 127.0.0.1:${port} (data in volume ${name})`);
      return existing.Config.Labels?.[PASSWORD_LABEL] ?? '';
    }
    await this.ensureImage(image, kind, say);
    const volume = await this.docker.getVolume(name).inspect().catch(() => undefined);
    if (volume && volume.Labels?.[KIND_LABEL] !== kind) {
      throw new StartupError(`a volume named ${name} exists that Gofer did not make: Gofer leaves it alone. Set GOFER_DEV_SERVICES_NAME to another prefix`);
    }
    // The password goes with the data: Postgres keeps the one its data was made with, so a volume kept
    // from an earlier container (`dev rm` without --data) brings its own.
    let password = (volume?.Labels as Record<string, string> | undefined)?.[PASSWORD_LABEL];
    if (!password) {
      password = randomBytes(18).toString('base64url');
      await this.docker.createVolume({ Name: name, Labels: { [KIND_LABEL]: kind, [PASSWORD_LABEL]: password } });
    }
    const spec = SPECS[kind];
    const container = await this.docker.createContainer({
      name,
      Image: image,
      Env: spec.env(password),
      Cmd: spec.command(this.hostNetwork ? port : undefined, password),
      Labels: { [KIND_LABEL]: kind, [PORT_LABEL]: String(port), [PASSWORD_LABEL]: password },
      ExposedPorts: this.hostNetwork ? undefined : { [`${spec.containerPort}/tcp`]: {} },
      HostConfig: {
        Binds: [`${name}:${spec.dataPath}`],
        ...(this.hostNetwork
          ? { NetworkMode: 'host' }
          : { PortBindings: { [`${spec.containerPort}/tcp`]: [{ HostIp: '127.0.0.1', HostPort: String(port) }] } }),
      },
    }).catch(async (error: unknown) => {
      // Another Gofer starting at the same moment made it first: use that one.
      if ((error as { statusCode?: number }).statusCode === 409) return undefined;
      throw error;
    });
    if (!container) return this.provide(kind, image, port, say);
    await container.start().catch(alreadyStarted);
    say(
      `started ${title} (${image}) as container ${name} on 127.0.0.1:${port}, data in volume ${name}: ` +
        'it keeps running after Gofer stops; `gofer service dev rm` removes it',
    );
    return password;
  }


  /** This configuration's running `kind` container serving `port`, if there is one, with its password. */
  async running(kind: DevServiceKind, port: number): Promise<{ name: string; password: string } | undefined> {
    const info = await this.inspect(this.name(kind));
    const labels = info?.Config.Labels ?? {};
    if (!info?.State.Running || labels[KIND_LABEL] !== kind || labels[PORT_LABEL] !== String(port)) return undefined;
    return { name: this.name(kind), password: labels[PASSWORD_LABEL] ?? '' };
  }

  private async ensureImage(image: string, kind: DevServiceKind, say: (line: string) => void): Promise<void> {
    if (await this.docker.getImage(image).inspect().then(() => true, () => false)) return;
    say(`pulling ${image} for ${SPECS[kind].title} …`);
    const setting = `GOFER_DEV_${kind.toUpperCase()}_IMAGE`;
    try {
      const progress = await this.docker.pull(image.includes(':') ? image : `${image}:latest`);
      await new Promise<void>((resolve, reject) =>
        this.docker.modem.followProgress(progress, (error, events) => {
          const failed = (events as Array<{ error?: string }> | undefined)?.find((event) => event.error);
          if (error || failed) reject(error ?? new Error(failed!.error));
          else resolve();
        }),
      );
    } catch (error) {
      throw new StartupError(`cannot pull ${image} (${setting}) for ${SPECS[kind].title}: ${(error as Error).message}. Pull it yourself, or set ${setting} to an image this machine has`);
    }
  }

  private async inspect(name: string): Promise<Docker.ContainerInspectInfo | undefined> {
    try {
      return await this.docker.getContainer(name).inspect();
    } catch (error) {
      if ((error as { statusCode?: number }).statusCode === 404) return undefined;
      throw error;
    }
  }

  /** Gofer's own `kind` container and volume (by label: a same-named one of the user's is not Gofer's). */
  private async own(kind: DevServiceKind): Promise<{ info?: Docker.ContainerInspectInfo; volume: boolean }> {
    const name = this.name(kind);
    const info = await this.inspect(name);
    const volume = await this.docker.getVolume(name).inspect().catch(() => undefined);
    return {
      info: info?.Config.Labels?.[KIND_LABEL] === kind ? info : undefined,
      volume: (volume?.Labels as Record<string, string> | undefined)?.[KIND_LABEL] === kind,
    };
  }

  async list(): Promise<DevService[]> {
    const found: DevService[] = [];
    for (const kind of KINDS) {
      const name = this.name(kind);
      const { info, volume } = await this.own(kind);
      if (!info && !volume) continue;
      const port = Number(info?.Config.Labels?.[PORT_LABEL]);
      found.push({
        kind,
        container: info ? name : '',
        volume: volume ? name : '',
        image: info?.Config.Image ?? '',
        port: Number.isInteger(port) && port > 0 ? port : undefined,
        state: info ? info.State.Status : 'removed (data kept)',
      });
    }
    return found;
  }

  async stop(): Promise<string[]> {
    const stopped: string[] = [];
    for (const kind of KINDS) {
      const { info } = await this.own(kind);
      if (!info?.State.Running) continue;
      await this.docker.getContainer(info.Id).stop();
      stopped.push(this.name(kind));
    }
    return stopped;
  }

  async remove(options: { data: boolean }): Promise<string[]> {
    const removed: string[] = [];
    for (const kind of KINDS) {
      const name = this.name(kind);
      const { info, volume } = await this.own(kind);
      if (info) {
        // Stopped first, so Postgres and Redis shut down cleanly (AOF flushed) rather than SIGKILLed.
        if (info.State.Running) await this.docker.getContainer(info.Id).stop();
        await this.docker.getContainer(info.Id).remove();
        removed.push(`container ${name}`);
      }
      if (options.data && volume) {
        await this.docker.getVolume(name).remove();
        removed.push(`volume ${name}`);
      }
    }
    return removed;
  }
}

/** Docker answers 304 to starting a container that already runs (another Gofer started it first). */
function alreadyStarted(error: unknown): void {
  if ((error as { statusCode?: number }).statusCode !== 304) throw error;
}
