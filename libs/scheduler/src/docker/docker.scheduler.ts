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
} from '../scheduler.js';
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
}

const DEFAULT_SOCKET = '/var/run/docker.sock';
// Docker's own rule for container names.
const NAME_PATTERN = /^[a-zA-Z0-9][a-zA-Z0-9_.-]+$/;
// Errors that mean the engine never answered (as opposed to answering with an error status).
const CONNECTION_ERRORS = new Set([
  'ENOENT', 'ECONNREFUSED', 'EACCES', 'EPERM', 'ECONNRESET', 'ECONNABORTED', 'EPIPE', 'ETIMEDOUT',
  'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN', 'ENOTSOCK',
]);
// Registry answers that mean "no such image" rather than "could not ask".
const NOT_FOUND_REASONS = /manifest unknown|not found|does not exist|pull access denied|repository name not known/i;
const ZERO_TIME = '0001-01-01T00:00:00Z';
// How long start() keeps retrying when a name conflict races a create that has not registered yet.
const CONFLICT_RETRIES = 100;
const CONFLICT_RETRY_MS = 50;
const LIST_CONCURRENCY = 8;

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

  constructor(options: DockerSchedulerOptions) {
    const { modem, address } = resolveAddress(options);
    // Explicit undefineds override what docker-modem would read from the environment.
    this.docker = new Docker({
      host: undefined, port: undefined, protocol: 'http', timeout: undefined, version: undefined,
      ca: undefined, cert: undefined, key: undefined, ...modem,
    });
    this.address = address;
    this.network = options.network;
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
    // Create first: the engine answers 409 when the name exists (adopt it) and 404 when the image is
    // missing (pull it), so the common case costs one call instead of three.
    let pulled = false;
    for (let attempt = 0; ; attempt++) {
      let id: string;
      try {
        signal?.throwIfAborted();
        const container = await abortable(this.docker.createContainer(this.createOptions(spec, signal)), signal);
        id = container.id;
      } catch (err) {
        if (signal?.aborted) throw signal.reason;
        const status = statusOf(err);
        if (status === 409) {
          // Another caller created the name first: adopt its container. Docker reserves the name a moment
          // before the container can be inspected, and frees it again if that create fails, so retry both.
          const raced = await this.guard(signal, 'inspect a container', () => this.inspectRaw(spec.name));
          if (raced) return this.adopt(raced, spec, signal);
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
          if (existing) return this.adopt(existing, spec, signal);
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
      await this.startContainer(id, spec.name, signal);
      return { id, name: spec.name, adopted: false };
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

function validateSpec(spec: ContainerSpec): void {
  const problems: string[] = [];
  if (!NAME_PATTERN.test(spec.name)) {
    problems.push(`name "${spec.name}" must be at least 2 characters of [a-zA-Z0-9_.-], starting with a letter or digit`);
  }
  if (typeof spec.image !== 'string' || spec.image.trim() === '') problems.push('image must not be empty');
  for (const key of Object.keys(spec.env)) {
    if (key === '' || key.includes('=')) problems.push(`environment variable name "${key}" must be non-empty and contain no "="`);
  }
  const cpu = spec.resources?.cpu;
  if (cpu !== undefined && !(Number.isFinite(cpu) && cpu > 0)) problems.push(`cpu limit ${cpu} must be a positive number of CPUs`);
  const memory = spec.resources?.memoryBytes;
  if (memory !== undefined && !(Number.isSafeInteger(memory) && memory > 0)) {
    problems.push(`memory limit ${memory} must be a positive whole number of bytes`);
  }
  if (problems.length > 0) {
    throw new SchedulerError('invalid_spec', `invalid container spec: ${problems.join('; ')}`);
  }
}

function toContainerInfo(raw: Docker.ContainerInspectInfo): ContainerInfo {
  const startedAt = parseTime(raw.State.StartedAt);
  const finishedAt = parseTime(raw.State.FinishedAt);
  const running = raw.State.Running;
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
