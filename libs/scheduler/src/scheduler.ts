/**
 * The one interface every container engine sits behind. Workers and the trigger/notifier supervisor talk
 * only to {@link Scheduler}; Docker is one implementation (`docker/docker.scheduler.ts`).
 */

/** What to run: one container per task attempt (or per installed trigger/notifier). */
export interface ContainerSpec {
  /**
   * Container name, deterministic per task attempt and chosen by the caller. It is what makes
   * {@link Scheduler.start} idempotent: a second start with the same name adopts the first container.
   * Must match `[a-zA-Z0-9][a-zA-Z0-9_.-]*`.
   */
  name: string;
  /** Image reference; a reference without tag or digest means `:latest`. */
  image: string;
  /** Overrides the image's entrypoint. @default the image's entrypoint */
  entrypoint?: string[];
  /** Overrides the image's command. @default the image's command */
  command?: string[];
  /** Environment variables passed to the container. */
  env: Record<string, string>;
  /** Labels set on the container, used to find it again ({@link Scheduler.list}) and by the reaper. */
  labels: Record<string, string>;
  /** Credentials for pulling `image` from a private registry. */
  registryAuth?: { user: string; pass: string };
  /** Resource limits. `cpu` is a number of CPUs (0.5 = half a core); `memoryBytes` a hard memory limit. */
  resources?: { cpu?: number; memoryBytes?: number };
}

/**
 * A long-running service container (an installed trigger): {@link ContainerSpec} plus how it listens.
 * The engine keeps it running: it restarts the container with backoff whenever it exits, until
 * {@link Scheduler.stop} or {@link Scheduler.remove}. Docker uses a restart policy; Nomad a service job.
 */
export interface ServiceSpec extends ContainerSpec {
  /**
   * The environment variable through which the scheduler tells the service which port to listen on
   * (all interfaces). The scheduler chooses the port: a free host port on a host network, a fixed port
   * published to a host port on a bridge network, Nomad's dynamic port. E.g. `GOFER_TRIGGER_PORT`.
   */
  portEnv: string;
}

/** A service container the scheduler started or adopted. */
export interface ServiceRef extends ContainerRef {
  /** `host:port` at which Gofer's processes can dial the service (loopback on a single machine). */
  address: string;
  /** True when a container of this name already existed and was adopted. */
  adopted: boolean;
}

/** A service container's state as the engine reports it. */
export interface ServiceInfo extends ContainerInfo {
  /** `host:port` to dial it; undefined if the engine has not assigned it (never started). */
  address?: string;
  /** How many times the engine restarted it since it was last started through the scheduler. */
  restarts: number;
  /** It exited and the engine will start it again after its restart backoff: leave it to the engine. */
  restarting: boolean;
}

/** A container the scheduler started or adopted. */
export interface ContainerRef {
  /** The engine's id for the container, opaque to callers (Docker's full container id). */
  id: string;
  /** The name from {@link ContainerSpec.name}. */
  name: string;
}

/** A container's state as the engine reports it. */
export interface ContainerInfo {
  id: string;
  /** The name from {@link ContainerSpec.name}, exactly as given (no engine prefix or decoration). */
  name: string;
  labels: Record<string, string>;
  running: boolean;
  /** Set once the container has run and stopped; undefined while running or if it never started. */
  exitCode?: number;
  /** Undefined if the container was never started. */
  startedAt?: Date;
  /** Undefined while running or if the container never ran. */
  finishedAt?: Date;
  /** The environment the container was created with (an adopter masks the secret values in it). */
  env: Record<string, string>;
}

/** One piece of container output, in the order the engine delivered it. */
export interface LogChunk {
  stream: 'stdout' | 'stderr';
  data: Buffer;
}

/** Runs containers on an engine. Every method may throw {@link SchedulerError}. */
export interface Scheduler {
  /** Which engine this is, e.g. `'docker'`. */
  readonly kind: string;

  /** Checks that the engine answers; throws `SchedulerError('unreachable', …)` naming the address otherwise. */
  ping(): Promise<void>;

  /**
   * Creates and starts the container, pulling the image if it is missing locally. If a container named
   * `spec.name` already exists (another worker created it before dying), adopts it instead: starts it only
   * if it was never started, and never restarts one that already ran. Safe under a race of two callers
   * with the same name: exactly one container is created, and both callers get it.
   *
   * @returns the container, with `adopted: true` when it already existed.
   * @throws SchedulerError `image_not_found` / `pull_failed` when the image cannot be had,
   *   `invalid_spec` when the engine rejects the spec or the container cannot start (e.g. unknown
   *   executable), `unreachable`, `engine_error`; or the signal's reason when `signal` aborts.
   */
  start(spec: ContainerSpec, signal?: AbortSignal): Promise<ContainerRef & { adopted: boolean }>;

  /**
   * Resolves with the exit code when the container stops; immediately if it already exited. A container
   * ended by a signal reports 128 + its number (137 after the SIGKILL of {@link Scheduler.stop}).
   * Rejects with the signal's reason when `signal` aborts (the container keeps running), and with a
   * {@link SchedulerError} when no exit code will ever come: `lost` (its node died), `unschedulable`,
   * or the start's own kinds for a container an earlier caller created that then failed to start.
   */
  wait(id: string, signal?: AbortSignal): Promise<{ exitCode: number }>;

  /**
   * All output since the container started, following it until the container exits, with stdout and
   * stderr kept apart. Streams with backpressure: nothing is buffered beyond what the consumer has not
   * yet pulled. The iterator ends (without error) when `signal` aborts or the consumer stops early.
   */
  logs(id: string, signal?: AbortSignal): AsyncIterable<LogChunk>;

  /** Sends SIGTERM, then SIGKILL after `graceSeconds`. No error if the container already stopped or is gone. */
  stop(id: string, graceSeconds: number): Promise<void>;

  /** Force-removes the container (stopping it if needed). No error if it is already gone. */
  remove(id: string): Promise<void>;

  /** The container's state, or undefined if no container has this name or id. */
  inspect(nameOrId: string): Promise<ContainerInfo | undefined>;

  /** Every container (running or not) carrying all of these labels. */
  list(labels: Record<string, string>): Promise<ContainerInfo[]>;

  /**
   * Creates and starts a service container that the engine restarts whenever it exits
   * ({@link ServiceSpec}), or adopts the one already named `spec.name`, starting it again if it is
   * stopped. Idempotent and race-safe like {@link Scheduler.start}: one container per name.
   * @throws SchedulerError as {@link Scheduler.start} does.
   */
  startService(spec: ServiceSpec, signal?: AbortSignal): Promise<ServiceRef>;

  /** The service container's state and address, or undefined if none has this name or id. */
  inspectService(nameOrId: string): Promise<ServiceInfo | undefined>;
}

/** Why a scheduler call failed. */
export type SchedulerErrorKind =
  /** The image is neither local nor in its registry. */
  | 'image_not_found'
  /** The image is not local and pulling it failed (registry unreachable, auth, …). */
  | 'pull_failed'
  /** The engine cannot be reached at all. */
  | 'unreachable'
  /** The engine rejected the container spec, or the container could not start. */
  | 'invalid_spec'
  /** No node of the cluster can run it (Nomad: constraints or capacity); the message gives the engine's reasons. */
  | 'unschedulable'
  /** The container was lost with its node: it will never report an exit code. */
  | 'lost'
  /** Anything else the engine reported. */
  | 'engine_error';

/** A failure of the engine or of the spec, with a message fit to show users (e.g. `image "x" not found`). */
export class SchedulerError extends Error {
  override readonly name = 'SchedulerError';

  constructor(
    readonly kind: SchedulerErrorKind,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
