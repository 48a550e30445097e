import { createServer } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Readable } from 'node:stream';
import Docker from 'dockerode';
import {
  SchedulerError,
  type ContainerInfo,
  type ContainerRef,
  type ContainerSpec,
  type LogChunk,
  type Scheduler,
  type SchedulerErrorKind,
  type ServiceInfo,
  type ServiceRef,
  type ServiceSpec,
} from '../scheduler.js';
import { NOT_FOUND_REASONS, validateServiceSpec, validateSpec } from '../spec-validation.js';
import { demultiplexLogStream } from './log-stream.parser.js';

/** Where the Docker engine is and how containers attach to the network. */
export interface DockerSchedulerOptions {
  /** Path of the engine's unix socket. @default '/var/run/docker.sock' */
  socketPath?: string;
  /**
   * Engine address as given in `GOFER_DOCKER_HOST`: `unix:///path`, a plain socket path, or
   * `tcp://host:port` / `http://host:port` (no TLS). Takes precedence over `socketPath`.
   */
  host?: string;
  /** Network mode for every container (`HostConfig.NetworkMode`), e.g. `'host'`. @default the engine's default */
  network?: string;
  /**
   * How Gofer dials a service container off the host's network: `published`, a port published on
   * 127.0.0.1 (Gofer runs on the engine's machine); `network`, the container's name on `network`
   * (Gofer's own processes run in containers on that network, as in docker-compose.yml). On the host's
   * network it is always 127.0.0.1 and a port of the host. @default 'published'
   */
  serviceAddress?: 'published' | 'network';
}

const DEFAULT_SOCKET = '/var/run/docker.sock';
// Errors that mean the engine never answered (as opposed to answering with an error status).
const CONNECTION_ERRORS = new Set([
  'ENOENT', 'ECONNREFUSED', 'EACCES', 'EPERM', 'ECONNRESET', 'ECONNABORTED', 'EPIPE', 'ETIMEDOUT',
  'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN', 'ENOTSOCK',
]);
const ZERO_TIME = '0001-01-01T00:00:00Z';
// How long start() keeps retrying when a name conflict races a create that has not registered yet.
const CONFLICT_RETRIES = 100;
const CONFLICT_RETRY_MS = 50;
const LIST_CONCURRENCY = 8;

/**
 * The label on a service container that records the host port Gofer dials it at, so that whoever
 * adopts it later (a new leader) computes the same address without guessing.
 */
const SERVICE_PORT_LABEL = 'gofer.service.port';
/** The host part of a service's address when it is not {@link SERVICE_HOST}: its container name. */
const SERVICE_HOST_LABEL = 'gofer.service.host';
/**
 * `unless-stopped`: the engine restarts a service whenever it exits (with its own backoff: 100 ms,
 * doubling, reset once it stayed up 10 s), but not one that {@link Scheduler.stop} stopped: Docker marks
 * a container stopped through its API (`stop`, `kill`) as stopped by hand. Unlike `always`, that mark
 * also survives a restart of the engine, which would otherwise bring back an uninstalled trigger. Both
 * bring running services back after an engine or machine restart.
 */
const SERVICE_RESTART_POLICY = 'unless-stopped';
/** The port a service listens on inside its own network namespace, when that is not the host's. */
const SERVICE_CONTAINER_PORT = 8080;
// The engine and Gofer share a machine (a unix socket, or tcp on loopback): services are dialled there.
const SERVICE_HOST = '127.0.0.1';
// How often startService picks a new port when another process took the one it chose.
const SERVICE_PORT_ATTEMPTS = 5;
// What the engine says when the host port of a binding is taken, by another process or container.
const PORT_TAKEN = /address already in use|port is already allocated/i;

interface EngineError extends Error {
  statusCode?: number;
  code?: string;
  json?: unknown;
}

/**
 * Creates a {@link Scheduler} backed by the Docker Engine API.
 *
 * @throws Error when `options.host` is not an address this client supports (e.g. `ssh://`, TLS).
 *
 * Only `options` decide the address: `DOCKER_HOST` and `DOCKER_CLIENT_TIMEOUT` from the environment are
 * ignored, so that a stray variable cannot point Gofer at another engine or cut long waits short.
 */
export function createDockerScheduler(options: DockerSchedulerOptions = {}): Scheduler {
  return new DockerScheduler(options);
}

class DockerScheduler implements Scheduler {
  readonly kind = 'docker';
  private readonly docker: Docker;
  private readonly address: string;
  private readonly network: string | undefined;
  private readonly serviceAddressMode: 'published' | 'network';

  constructor(options: DockerSchedulerOptions) {
    const { modem, address } = resolveAddress(options);
    this.docker = dockerFor(modem);
    this.address = address;
    this.network = options.network;
    this.serviceAddressMode = options.serviceAddress ?? 'published';
  }

  async ping(): Promise<void> {
    try {
      await this.docker.ping();
    } catch (err) {
      throw this.engineError('answer a ping', err);
    }
  }

  async start(spec: ContainerSpec, signal?: AbortSignal): Promise<ContainerRef & { adopted: boolean }> {
    validateSpec(spec);
    signal?.throwIfAborted();
    const found = await this.createOrFind(spec, () => this.createOptions(spec, signal), signal);
    if (!found.created) return this.adopt(found.existing, spec, signal);
    await this.startContainer(found.id, spec.name, signal);
    return { id: found.id, name: spec.name, adopted: false };
  }

  /**
   * Creates the container named `spec.name`, or finds the one that already has that name, pulling the
   * image if it is missing. Safe under a race of callers with one name: exactly one of them creates it.
   */
  private async createOrFind(
    spec: ContainerSpec,
    createOptions: () => Docker.ContainerCreateOptions,
    signal: AbortSignal | undefined,
  ): Promise<{ created: true; id: string } | { created: false; existing: Docker.ContainerInspectInfo }> {
    // Create first: the engine answers 409 when the name exists (adopt it) and 404 when the image is
    // missing (pull it), so the common case costs one call instead of three.
    let pulled = false;
    for (let attempt = 0; ; attempt++) {
      try {
        signal?.throwIfAborted();
        const container = await abortable(this.docker.createContainer(createOptions()), signal);
        return { created: true, id: container.id };
      } catch (err) {
        if (signal?.aborted) throw signal.reason;
        const status = statusOf(err);
        if (status === 409) {
          // Another caller created the name first: adopt its container. Docker reserves the name a moment
          // before the container can be inspected, and frees it again if that create fails, so retry both.
          const raced = await this.guard(signal, 'inspect a container', () => this.inspectRaw(spec.name));
          if (raced) return { created: false, existing: raced };
          if (attempt < CONFLICT_RETRIES) {
            await sleep(CONFLICT_RETRY_MS, undefined, { signal }).catch(() => {
              throw signal?.reason;
            });
            continue;
          }
        }
        if (status === 404 && !/no such image/i.test(reasonOf(err))) {
          // e.g. the configured network does not exist
          throw new SchedulerError('invalid_spec', `Docker rejected container "${spec.name}": ${reasonOf(err)}`, { cause: err });
        }
        if (status === 404) {
          // A container of this name may exist even though its image is gone: adopt it, never pull for it.
          const existing = await this.guard(signal, 'inspect a container', () => this.inspectRaw(spec.name));
          if (existing) return { created: false, existing };
          if (!pulled) {
            await this.ensureImage(spec, signal);
            pulled = true;
            continue;
          }
          throw new SchedulerError('image_not_found', `image "${spec.image}" not found: it was removed while the container was being created`, { cause: err });
        }
        if (status === 400) {
          throw new SchedulerError('invalid_spec', `Docker rejected container "${spec.name}": ${reasonOf(err)}`, { cause: err });
        }
        throw this.engineError(`create container "${spec.name}"`, err);
      }
    }
  }

  async wait(id: string, signal?: AbortSignal): Promise<{ exitCode: number }> {
    // 'not-running' answers at once for a container that has already exited.
    const result = await this.guard(signal, `wait for container ${id}`, () =>
      this.docker.getContainer(id).wait({ condition: 'not-running', abortSignal: signal }),
    ) as { StatusCode: number };
    return { exitCode: result.StatusCode };
  }

  async *logs(id: string, signal?: AbortSignal): AsyncIterable<LogChunk> {
    const seen = { stdout: 0, stderr: 0 };
    for await (const chunk of this.readLogs(id, true, signal)) {
      seen[chunk.stream] += chunk.data.length;
      yield chunk;
    }
    if (signal?.aborted) return;
    // The engine's follow stream can end before it delivered the container's last output (moby#43860:
    // seen here losing the final few KiB of a 40 MB log). Once the container has stopped, a plain read
    // returns the whole log from the engine's log file; pass on whatever the follow stream missed.
    await this.wait(id, signal);
    for await (const chunk of this.readLogs(id, false, signal)) {
      const skip = Math.min(seen[chunk.stream], chunk.data.length);
      seen[chunk.stream] -= skip;
      if (skip < chunk.data.length) yield { stream: chunk.stream, data: chunk.data.subarray(skip) };
    }
  }

  private async *readLogs(id: string, follow: boolean, signal?: AbortSignal): AsyncIterable<LogChunk> {
    if (signal?.aborted) return;
    let stream: Readable;
    try {
      // dockerode's container.logs() buffers the whole answer when not following; dial it as a stream.
      const reply = new Promise<Readable>((resolve, reject) =>
        this.docker.modem.dial(
          {
            path: `/containers/${id}/logs?`, method: 'GET', isStream: true, abortSignal: signal,
            statusCodes: { 200: true, 404: 'no such container', 500: 'server error' },
            options: { follow, stdout: true, stderr: true },
          },
          (err: unknown, data: unknown) => (err ? reject(err) : resolve(data as Readable)),
        ),
      );
      stream = (await abortable(reply, signal)) as unknown as Readable;
    } catch (err) {
      if (signal?.aborted) return;
      throw this.engineError(`read the logs of container ${id}`, err);
    }
    const onAbort = () => stream.destroy();
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      if (signal?.aborted) return;
      yield* demultiplexLogStream(stream);
    } catch (err) {
      if (signal?.aborted) return;
      throw this.engineError(`read the logs of container ${id}`, err);
    } finally {
      signal?.removeEventListener('abort', onAbort);
      // Ends the HTTP request when the consumer stops early or the signal fired.
      stream.destroy();
    }
  }

  async stop(id: string, graceSeconds: number): Promise<void> {
    try {
      // The engine sends the stop signal, waits `t` seconds, then SIGKILLs; the call returns once stopped.
      await this.docker.getContainer(id).stop({ t: Math.max(0, Math.ceil(graceSeconds)) });
    } catch (err) {
      const status = statusOf(err);
      if (status === 304 || status === 404) return; // already stopped / gone
      throw this.engineError(`stop container ${id}`, err);
    }
  }

  async remove(id: string): Promise<void> {
    try {
      await this.docker.getContainer(id).remove({ force: true, v: true });
    } catch (err) {
      const status = statusOf(err);
      if (status === 404) return;
      if (status === 409 && /already in progress/i.test(reasonOf(err))) return;
      throw this.engineError(`remove container ${id}`, err);
    }
  }

  async inspect(nameOrId: string): Promise<ContainerInfo | undefined> {
    try {
      const raw = await this.inspectRaw(nameOrId);
      return raw && toContainerInfo(raw);
    } catch (err) {
      throw this.engineError(`inspect container ${nameOrId}`, err);
    }
  }

  async list(labels: Record<string, string>): Promise<ContainerInfo[]> {
    let summaries: Docker.ContainerInfo[];
    try {
      summaries = await this.docker.listContainers({
        all: true,
        filters: JSON.stringify({ label: Object.entries(labels).map(([k, v]) => `${k}=${v}`) }),
      });
    } catch (err) {
      throw this.engineError('list containers', err);
    }
    // The list lacks start/finish times and exit codes, so inspect each (bounded, to spare the engine).
    const infos: (ContainerInfo | undefined)[] = new Array(summaries.length);
    let next = 0;
    const worker = async () => {
      while (next < summaries.length) {
        const index = next++;
        infos[index] = await this.inspect(summaries[index]!.Id); // undefined if removed meanwhile
      }
    };
    await Promise.all(Array.from({ length: Math.min(LIST_CONCURRENCY, summaries.length) }, worker));
    return infos.filter((info): info is ContainerInfo => info !== undefined);
  }

  /**
   * The port: Gofer picks a host port that is free on every interface and dials the service at
   * `127.0.0.1:<port>`. On the host's network the service listens on that port itself (`env[portEnv]`);
   * on any other network it listens on {@link SERVICE_CONTAINER_PORT}, published to that host port on
   * 127.0.0.1 only. The host port is fixed rather than engine-chosen because the engine chooses a new
   * one on every restart (moby#31926), and the address must survive the restarts of a crashing service.
   * The port is recorded in {@link SERVICE_PORT_LABEL}.
   *
   * Before starting a service container that is not running, a port taken meanwhile by another process
   * (the engine reports it for a published port; on the host's network the service would only crash on
   * it, so it is checked first) makes it remove that container and create it anew on another port. A
   * port taken while the service runs or restarts is not seen: the service then crash-loops (its
   * `restarts` climb) until it is removed and started again.
   */
  async startService(spec: ServiceSpec, signal?: AbortSignal): Promise<ServiceRef> {
    validateServiceSpec(spec);
    signal?.throwIfAborted();
    for (let attempt = 1; ; attempt++) {
      const hostPort = await freePort();
      const found = await this.createOrFind(spec, () => this.serviceCreateOptions(spec, hostPort, signal), signal);
      const id = found.created ? found.id : found.existing.Id;
      if (!found.created) {
        if (servicePort(found.existing) === undefined) {
          throw new SchedulerError(
            'invalid_spec',
            `container "${spec.name}" exists but is not a service container (it has no ${SERVICE_PORT_LABEL} label): remove it first`,
          );
        }
        // Running, or waiting out the engine's restart backoff: the engine keeps it going.
        if (found.existing.State.Running) return { id, name: spec.name, address: serviceAddress(found.existing)!, adopted: true };
      }
      const started = await this.startServiceContainer(id, spec.name, signal);
      if (started) return { id, name: spec.name, address: serviceAddress(started)!, adopted: !found.created };
      if (attempt >= SERVICE_PORT_ATTEMPTS) {
        throw new SchedulerError(
          'engine_error',
          `service "${spec.name}" could not start: another process took its port ${SERVICE_PORT_ATTEMPTS} times in a row`,
        );
      }
    }
  }

  async inspectService(nameOrId: string): Promise<ServiceInfo | undefined> {
    let raw: Docker.ContainerInspectInfo | undefined;
    try {
      raw = await this.inspectRaw(nameOrId);
    } catch (err) {
      throw this.engineError(`inspect container ${nameOrId}`, err);
    }
    if (!raw) return undefined;
    const address = serviceAddress(raw);
    // Docker counts restarts since the container was last started through its API, not since creation.
    return { ...toContainerInfo(raw), ...(address && { address }), restarts: raw.RestartCount ?? 0, restarting: raw.State.Restarting === true };
  }

  /**
   * Starts a service container that is not running. Returns its state, or undefined when its port is
   * taken by another process: the container is then removed, for the caller to create it on another port.
   */
  private async startServiceContainer(
    id: string,
    name: string,
    signal: AbortSignal | undefined,
  ): Promise<Docker.ContainerInspectInfo | undefined> {
    const inspect = () => this.guard(signal, `inspect container "${name}"`, () => this.inspectRaw(id));
    const raw = await inspect();
    if (!raw) return undefined; // removed by a racing caller that found its port taken
    if (raw.State.Running) return raw; // a racing caller started it
    // On the host's network nothing but the service binds the port, so the engine cannot see it taken.
    if (raw.HostConfig.NetworkMode === 'host' && !(await portIsFree(servicePort(raw)!))) {
      // Taken by the service itself if a racing caller started it since; by someone else otherwise.
      const again = await inspect();
      if (again?.State.Running) return again;
      await this.remove(id);
      return undefined;
    }
    try {
      await this.startContainer(id, name, signal);
    } catch (err) {
      if (!(err instanceof SchedulerError && statusOf(err.cause) === 500 && PORT_TAKEN.test(reasonOf(err.cause)))) throw err;
      await this.remove(id);
      return undefined;
    }
    return raw;
  }

  private serviceCreateOptions(spec: ServiceSpec, hostPort: number, signal: AbortSignal | undefined): Docker.ContainerCreateOptions {
    const options = this.createOptions(spec, signal);
    const hostNetwork = this.network === 'host';
    const listenPort = hostNetwork ? hostPort : SERVICE_CONTAINER_PORT;
    options.Env = [...(options.Env ?? []), `${spec.portEnv}=${listenPort}`];
    options.Labels = { ...spec.labels, [SERVICE_PORT_LABEL]: String(hostPort) };
    options.HostConfig = { ...options.HostConfig, RestartPolicy: { Name: SERVICE_RESTART_POLICY } };
    if (!hostNetwork && this.serviceAddressMode === 'network') {
      // Dialled by name on the shared network (the engine's DNS): nothing is published.
      options.Labels[SERVICE_PORT_LABEL] = String(SERVICE_CONTAINER_PORT);
      options.Labels[SERVICE_HOST_LABEL] = spec.name;
    } else if (!hostNetwork) {
      // Published on loopback only: Gofer, on this machine, is the only one that dials it.
      options.ExposedPorts = { [`${listenPort}/tcp`]: {} };
      options.HostConfig.PortBindings = { [`${listenPort}/tcp`]: [{ HostIp: SERVICE_HOST, HostPort: String(hostPort) }] };
    }
    return options;
  }

  /** Starts an existing container only if it never ran: one that already exited must not run twice. */
  private async adopt(
    raw: Docker.ContainerInspectInfo,
    spec: ContainerSpec,
    signal: AbortSignal | undefined,
  ): Promise<ContainerRef & { adopted: boolean }> {
    if (raw.State.Status === 'created') await this.startContainer(raw.Id, spec.name, signal);
    return { id: raw.Id, name: spec.name, adopted: true };
  }

  private async startContainer(id: string, name: string, signal: AbortSignal | undefined): Promise<void> {
    try {
      signal?.throwIfAborted();
      await abortable(this.docker.getContainer(id).start({ abortSignal: signal }), signal);
    } catch (err) {
      if (signal?.aborted) throw signal.reason;
      const status = statusOf(err);
      if (status === 304) return; // a racing caller started it
      if (status === 400) {
        // e.g. the command does not exist in the image.
        throw new SchedulerError('invalid_spec', `container "${name}" could not start: ${reasonOf(err)}`, { cause: err });
      }
      throw this.engineError(`start container "${name}"`, err);
    }
  }

  /** Pulls `spec.image` unless it is already present locally. */
  private async ensureImage(spec: ContainerSpec, signal: AbortSignal | undefined): Promise<void> {
    const { image } = spec;
    if (await this.imageExists(image, signal)) return;

    const auth = spec.registryAuth && {
      username: spec.registryAuth.user,
      password: spec.registryAuth.pass,
      serveraddress: registryOf(image),
    };
    let progress: Readable;
    try {
      signal?.throwIfAborted();
      // Without a tag the engine would pull every tag of the repository.
      const opts = { fromImage: withDefaultTag(image), abortSignal: signal };
      progress = (await abortable(
        auth ? this.docker.createImage(auth, opts) : this.docker.createImage(opts),
        signal,
      )) as unknown as Readable;
    } catch (err) {
      if (signal?.aborted) throw signal.reason;
      throw this.pullError(image, err);
    }

    // The engine reports most pull failures inside a 200 response, as `{"error": …}` progress lines.
    let failure: string | undefined;
    const onAbort = () => progress.destroy();
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      let pending = '';
      for await (const chunk of progress) {
        const lines = (pending + chunk.toString('utf8')).split('\n');
        pending = lines.pop() ?? '';
        for (const line of lines) failure = progressError(line) ?? failure;
      }
      failure = progressError(pending) ?? failure;
    } catch (err) {
      if (signal?.aborted) throw signal.reason;
      throw this.pullError(image, err);
    } finally {
      signal?.removeEventListener('abort', onAbort);
      progress.destroy();
    }
    if (failure !== undefined) throw this.pullError(image, Object.assign(new Error(failure), { json: { message: failure } }));
    if (!(await this.imageExists(image, signal))) {
      throw new SchedulerError('image_not_found', `image "${image}" not found: the pull finished but the engine does not have it`);
    }
  }

  private async imageExists(image: string, signal: AbortSignal | undefined): Promise<boolean> {
    try {
      await abortable(this.docker.getImage(image).inspect(), signal);
      return true;
    } catch (err) {
      if (signal?.aborted) throw signal.reason;
      const status = statusOf(err);
      if (status === 404) return false;
      if (status === 400) {
        throw new SchedulerError('invalid_spec', `image "${image}" is not a valid image reference: ${reasonOf(err)}`, { cause: err });
      }
      throw this.engineError(`inspect image "${image}"`, err);
    }
  }

  private pullError(image: string, err: unknown): SchedulerError {
    if (isConnectionError(err)) return this.engineError(`pull image "${image}"`, err);
    const reason = reasonOf(err);
    if (statusOf(err) === 404 || NOT_FOUND_REASONS.test(reason)) {
      return new SchedulerError('image_not_found', `image "${image}" not found: ${reason}`, { cause: err });
    }
    if (statusOf(err) === 400) {
      return new SchedulerError('invalid_spec', `image "${image}" is not a valid image reference: ${reason}`, { cause: err });
    }
    return new SchedulerError(
      'pull_failed',
      `image "${image}" could not be pulled: ${reason} (check the registry address and credentials)`,
      { cause: err },
    );
  }

  private createOptions(spec: ContainerSpec, signal: AbortSignal | undefined): Docker.ContainerCreateOptions {
    const hostConfig: Docker.HostConfig = {};
    if (this.network !== undefined) hostConfig.NetworkMode = this.network;
    if (spec.resources?.cpu !== undefined) hostConfig.NanoCpus = Math.round(spec.resources.cpu * 1e9);
    if (spec.resources?.memoryBytes !== undefined) hostConfig.Memory = spec.resources.memoryBytes;
    return {
      name: spec.name,
      Image: spec.image,
      ...(spec.entrypoint && { Entrypoint: spec.entrypoint }),
      ...(spec.command && { Cmd: spec.command }),
      Env: Object.entries(spec.env).map(([key, value]) => `${key}=${value}`),
      Labels: spec.labels,
      Tty: false,
      OpenStdin: false,
      AttachStdin: false,
      HostConfig: hostConfig,
      abortSignal: signal,
    };
  }

  private async inspectRaw(nameOrId: string): Promise<Docker.ContainerInspectInfo | undefined> {
    try {
      return await this.docker.getContainer(nameOrId).inspect();
    } catch (err) {
      if (statusOf(err) === 404) return undefined;
      throw err;
    }
  }

  /** Runs an engine call, turning an abort into the signal's reason and anything else into a SchedulerError. */
  private async guard<T>(signal: AbortSignal | undefined, action: string, call: () => Promise<T>): Promise<T> {
    signal?.throwIfAborted();
    try {
      return await abortable(call(), signal);
    } catch (err) {
      if (signal?.aborted) throw signal.reason;
      throw this.engineError(action, err);
    }
  }

  private engineError(action: string, err: unknown): SchedulerError {
    if (err instanceof SchedulerError) return err;
    if (isConnectionError(err)) {
      return new SchedulerError(
        'unreachable',
        `cannot reach Docker at ${this.address}: ${reasonOf(err)} (is dockerd running, and does GOFER_DOCKER_HOST point at it?)`,
        { cause: err },
      );
    }
    const status = statusOf(err);
    const kind: SchedulerErrorKind = 'engine_error';
    if (status === 404) return new SchedulerError(kind, `Docker could not ${action}: no such container or image (${reasonOf(err)})`, { cause: err });
    return new SchedulerError(kind, `Docker could not ${action}: ${reasonOf(err)}`, { cause: err });
  }
}

/** A client of the Docker engine at `host` (GOFER_DOCKER_HOST's forms), for what talks to it outside the scheduler. */
export function dockerClient(host: string | undefined): { docker: Docker; address: string } {
  const { modem, address } = resolveAddress({ host });
  return { docker: dockerFor(modem), address };
}

function dockerFor(modem: Docker.DockerOptions): Docker {
  // Explicit undefineds override what docker-modem would read from the environment.
  return new Docker({
    host: undefined, port: undefined, protocol: 'http', timeout: undefined, version: undefined,
    ca: undefined, cert: undefined, key: undefined, ...modem,
  });
}

function resolveAddress(options: DockerSchedulerOptions): { modem: Docker.DockerOptions; address: string } {
  const host = options.host?.trim();
  if (host) {
    if (host.startsWith('unix://')) {
      const socketPath = host.slice('unix://'.length);
      return { modem: { socketPath }, address: socketPath };
    }
    if (host.startsWith('/')) return { modem: { socketPath: host }, address: host };
    const match = /^(?:tcp|http):\/\/([^/:]+|\[[^\]]+\]):(\d+)\/?$/.exec(host);
    if (match) {
      return { modem: { host: match[1]!.replace(/^\[|\]$/g, ''), port: Number(match[2]), protocol: 'http' }, address: host };
    }
    throw new Error(
      `Docker address "${host}" is not supported (GOFER_DOCKER_HOST): use unix:///path/to/docker.sock, a socket path, or tcp://host:port`,
    );
  }
  const socketPath = options.socketPath ?? DEFAULT_SOCKET;
  return { modem: { socketPath }, address: socketPath };
}


/** The host port recorded on a service container, or undefined if it is not one. */
function servicePort(raw: Docker.ContainerInspectInfo): number | undefined {
  const value = raw.Config.Labels?.[SERVICE_PORT_LABEL];
  const port = Number(value);
  return value !== undefined && /^[1-9]\d{0,4}$/.test(value) && port <= 65535 ? port : undefined;
}

function serviceAddress(raw: Docker.ContainerInspectInfo): string | undefined {
  const port = servicePort(raw);
  return port === undefined ? undefined : `${raw.Config.Labels?.[SERVICE_HOST_LABEL] || SERVICE_HOST}:${port}`;
}

/** A TCP port that is free on every interface at this moment, chosen by the OS. */
async function freePort(): Promise<number> {
  const server = createServer();
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, resolve); // no host: every interface, IPv4 and IPv6
    });
    return (server.address() as { port: number }).port;
  } catch (err) {
    throw new SchedulerError('engine_error', `no free port for a service: ${reasonOf(err)}`, { cause: err });
  } finally {
    await new Promise((resolve) => server.close(resolve));
  }
}

/** Whether `port` can be listened on, on every interface, right now. */
async function portIsFree(port: number): Promise<boolean> {
  const server = createServer();
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, resolve);
    });
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EADDRINUSE') return false;
    throw new SchedulerError('engine_error', `cannot check that port ${port} is free: ${reasonOf(err)}`, { cause: err });
  } finally {
    await new Promise((resolve) => server.close(resolve));
  }
}

function toContainerInfo(raw: Docker.ContainerInspectInfo): ContainerInfo {
  const startedAt = parseTime(raw.State.StartedAt);
  const finishedAt = parseTime(raw.State.FinishedAt);
  // A container waiting out its restart policy's backoff counts as running for the engine; its process is not.
  const running = raw.State.Running && !raw.State.Restarting;
  return {
    id: raw.Id,
    name: raw.Name.replace(/^\//, ''), // the engine reports names as "/name"
    labels: raw.Config.Labels ?? {},
    running,
    ...(!running && startedAt && { exitCode: raw.State.ExitCode }),
    ...(startedAt && { startedAt }),
    ...(!running && finishedAt && { finishedAt }),
    env: Object.fromEntries((raw.Config.Env ?? []).map((entry) => {
      const equals = entry.indexOf('=');
      return equals === -1 ? [entry, ''] : [entry.slice(0, equals), entry.slice(equals + 1)];
    })),
  };
}

function parseTime(value: string | undefined): Date | undefined {
  if (!value || value === ZERO_TIME) return undefined;
  const date = new Date(value);
  return Number.isNaN(date.getTime()) ? undefined : date;
}

/** `busybox` → `busybox:latest`; references with a tag or digest are left alone. */
function withDefaultTag(image: string): string {
  if (image.includes('@')) return image;
  const lastSegment = image.slice(image.lastIndexOf('/') + 1);
  return lastSegment.includes(':') ? image : `${image}:latest`;
}

/** The registry an image reference points at, as Docker's auth config expects it. */
function registryOf(image: string): string {
  const slash = image.indexOf('/');
  const first = slash === -1 ? '' : image.slice(0, slash);
  if (first.includes('.') || first.includes(':') || first === 'localhost') return first;
  return 'https://index.docker.io/v1/';
}

function progressError(line: string): string | undefined {
  if (line.trim() === '') return undefined;
  try {
    const event = JSON.parse(line) as { error?: string; errorDetail?: { message?: string } };
    return event.errorDetail?.message ?? event.error;
  } catch {
    return undefined;
  }
}

function abortable<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return promise;
  if (signal.aborted) {
    promise.catch(() => {}); // the call still settles; nobody is waiting for it
    return Promise.reject(signal.reason);
  }
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => (signal.removeEventListener('abort', onAbort), resolve(value)),
      (err) => (signal.removeEventListener('abort', onAbort), reject(err)),
    );
  });
}

function statusOf(err: unknown): number | undefined {
  return (err as EngineError | undefined)?.statusCode;
}

function isConnectionError(err: unknown): boolean {
  const e = err as EngineError | undefined;
  return e?.statusCode === undefined && typeof e?.code === 'string' && CONNECTION_ERRORS.has(e.code);
}

/** The engine's own words, without dockerode's "(HTTP code 500) server error - " prefix; kept short. */
function reasonOf(err: unknown): string {
  const e = err as EngineError | undefined;
  const json = e?.json as { message?: unknown } | undefined;
  let reason =
    typeof json?.message === 'string'
      ? json.message
      : String(e?.message ?? err).replace(/^\(HTTP code \d+\) [^-]*- /, '');
  reason = reason.trim();
  return reason.length > 300 ? `${reason.slice(0, 297)}...` : reason;
}
