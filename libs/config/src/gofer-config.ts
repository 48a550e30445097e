import { hostname } from 'node:os';
import { parseDuration } from '@gofer/pipeline';
import { redactUrl } from './redact-url.js';
import { z } from 'zod';

/** A duration in milliseconds, written as pipelines write them (`500ms`, `5s`, `2m`, `1h30m`; libs/pipeline's parser), trimmed. */
const duration = (fallback: string) =>
  z
    .string()
    .default(fallback)
    .transform((text, ctx) => {
      const ms = parseDuration(text.trim());
      if (ms === undefined) {
        ctx.addIssue({ code: 'custom', message: `"${text}" is not a duration like 500ms, 5s, 2m or 1h` });
        return z.NEVER;
      }
      return ms;
    });

const address = (fallback: string) =>
  z
    .string()
    .default(fallback)
    .refine((value) => /^(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+):\d{1,5}$/.test(value), {
      message: 'expected HOST:PORT, e.g. 127.0.0.1:8080',
    });

const integer = (fallback: number, min: number, max: number) =>
  z.coerce.number().int().min(min).max(max).default(fallback);

/** A comma-separated subset of `known` (or `none`), as a list without duplicates. */
const names = (known: readonly string[]) =>
  z
    .string()
    .default(known.join(','))
    .transform((text, ctx) => {
      const list = text.trim() === 'none' ? [] : [...new Set(text.split(',').map((name) => name.trim()).filter(Boolean))];
      const unknown = list.filter((name) => !known.includes(name));
      if (unknown.length > 0) {
        ctx.addIssue({ code: 'custom', message: `unknown ${unknown.map((n) => `"${n}"`).join(', ')}: expected some of ${known.join(', ')}, or none` });
        return z.NEVER;
      }
      return list;
    });

/** A comma-separated list, each entry trimmed, without empties or duplicates; at least one entry. */
const list = (fallback: string, what: string) =>
  z
    .string()
    .default(fallback)
    .transform((text, ctx) => {
      const entries = [...new Set(text.split(',').map((entry) => entry.trim()).filter(Boolean))];
      if (entries.length === 0) {
        ctx.addIssue({ code: 'custom', message: `expected at least one ${what}, comma-separated` });
        return z.NEVER;
      }
      return entries;
    });

/** An http:// or https:// base URL (fetch can reach nothing else). */
const httpUrl = (fallback: string) =>
  z
    .string()
    .default(fallback)
    .refine((value) => URL.canParse(value) && ['http:', 'https:'].includes(new URL(value).protocol), {
      message: `expected an http:// or https:// URL, e.g. ${fallback}`,
    });

/**
 * Every environment variable the service reads, each declared once here, validated once at startup. A
 * bad value stops the process with a message naming the variable (see {@link loadConfig}).
 */
const environment = z.object({
  // Source of truth for every state; the database is created if it does not exist.
  GOFER_DATABASE_URL: z.string().url().default('postgres://postgres@127.0.0.1:5432/gofer'),
  // Longest a statement (or an idle transaction) may take before Postgres cancels it, so a stuck one cannot hold
  // locks or a connection for good; migrations are exempt. Raise it if deleting a huge pipeline times out.
  GOFER_DATABASE_STATEMENT_TIMEOUT: duration('1m').refine((ms) => ms >= 1000, 'must be at least 1s, e.g. 1m'),
  // Carries only "which task to run now" (BullMQ) and live logs; must use maxmemory-policy noeviction.
  GOFER_REDIS_URL: z.string().url().default('redis://127.0.0.1:6379'),
  // `gofer service start` with both roles and GOFER_DATABASE_URL / GOFER_REDIS_URL unset: "auto" starts Postgres
  // and Redis as Docker containers when nothing answers on their loopback ports (a laptop with only Docker);
  // "off" never does. A cluster sets the URLs, so it never does either (README "The two commands").
  GOFER_DEV_SERVICES: z.enum(['auto', 'off']).default('auto'),
  // Images of those containers: any with the official postgres / redis images' interface.
  GOFER_DEV_POSTGRES_IMAGE: z.string().min(1).default('postgres:16-alpine'),
  GOFER_DEV_REDIS_IMAGE: z.string().min(1).default('redis:7-alpine'),
  // The loopback ports they listen on, and Gofer connects to while the URLs are unset.
  GOFER_DEV_POSTGRES_PORT: integer(5432, 1, 65535),
  GOFER_DEV_REDIS_PORT: integer(6379, 1, 65535),
  // Their containers and data volumes are <name>-postgres and <name>-redis.
  GOFER_DEV_SERVICES_NAME: z
    .string()
    .default('gofer-dev')
    .refine((value) => /^[a-z0-9][a-z0-9_.-]{0,40}$/.test(value), { message: 'expected a Docker name prefix: a-z, 0-9, _ . -, at most 41 characters' }),
  // gRPC API listen address (clients, CLI, trigger events).
  GOFER_GRPC_ADDR: address('127.0.0.1:8080'),
  // HTTP listen address: /healthz, /readyz, /metrics, webhooks.
  GOFER_HTTP_ADDR: address('127.0.0.1:8081'),
  // Address task containers use to reach the API (GOFER_HOST inside tasks); defaults to GOFER_GRPC_ADDR.
  GOFER_ADVERTISE_ADDR: z.string().optional(),
  // Which container engine runs task containers: a Docker Engine, or Nomad (its docker driver) on a cluster.
  GOFER_SCHEDULER: z.enum(['docker', 'nomad']).default('docker'),
  // Docker Engine API endpoint: a unix socket path or unix:///path, or tcp://host:port.
  GOFER_DOCKER_HOST: z.string().default('unix:///var/run/docker.sock'),
  // Docker network for task containers (e.g. "host"); empty means the engine's default bridge.
  GOFER_DOCKER_NETWORK: z.string().default(''),
  // How Gofer dials trigger containers off the host network: "published" (a loopback port; Gofer on the
  // Docker host) or "network" (their container name on GOFER_DOCKER_NETWORK; Gofer in containers there).
  GOFER_DOCKER_SERVICE_ADDRESS: z.enum(['published', 'network']).default('published'),
  // Nomad agent's HTTP API (as NOMAD_ADDR), when GOFER_SCHEDULER=nomad.
  GOFER_NOMAD_ADDR: httpUrl('http://127.0.0.1:4646'),
  // Nomad ACL token (as NOMAD_TOKEN); needs to register, read and stop jobs and read logs in the namespace.
  GOFER_NOMAD_TOKEN: z.string().optional(),
  // Nomad namespace of every job Gofer registers (as NOMAD_NAMESPACE).
  GOFER_NOMAD_NAMESPACE: z.string().regex(/^[a-zA-Z0-9-]{1,128}$/, 'expected a Nomad namespace name: letters, digits and -').default('default'),
  // Nomad region to send requests to (as NOMAD_REGION); empty means the agent's.
  GOFER_NOMAD_REGION: z.string().optional(),
  // Datacenters Gofer's jobs may be placed in, comma-separated; Nomad's globs apply ("*" is all of them).
  GOFER_NOMAD_DATACENTERS: list('*', 'datacenter'),
  // Nomad node pool of Gofer's jobs (Nomad 1.6+); empty means Nomad's "default".
  GOFER_NOMAD_NODE_POOL: z.string().regex(/^[a-zA-Z0-9-_]{1,128}$/, 'expected a Nomad node pool name: letters, digits, - and _').optional(),
  // docker driver network_mode of every container Gofer runs on Nomad (e.g. "host"); empty means the driver's default.
  GOFER_NOMAD_NETWORK_MODE: z.string().optional(),
  // PEM file of the CA that signed Nomad's certificate (as NOMAD_CACERT); empty means the system's CAs.
  GOFER_NOMAD_CACERT: z.string().optional(),
  // PEM files of a client certificate and its key, for Nomad's mutual TLS (as NOMAD_CLIENT_CERT, NOMAD_CLIENT_KEY).
  GOFER_NOMAD_CLIENT_CERT: z.string().optional(),
  GOFER_NOMAD_CLIENT_KEY: z.string().optional(),
  // Name to verify Nomad's certificate against, and send as SNI (as NOMAD_TLS_SERVER_NAME), e.g. server.global.nomad.
  GOFER_NOMAD_TLS_SERVER_NAME: z.string().optional(),
  // Do not verify Nomad's certificate (as NOMAD_SKIP_VERIFY): for tests only, anyone on the path can read the token.
  GOFER_NOMAD_SKIP_VERIFY: z.enum(['true', 'false']).default('false'),
  // Where objects and archived task logs live: fs:///absolute/path, fs://relative/path, or s3://bucket[/prefix]
  // (with GOFER_S3_* below; MinIO and AWS S3 both work).
  GOFER_OBJECT_STORE: z
    .string()
    .default('fs://.data/objects')
    .refine((value) => /^fs:\/\/.+/.test(value) || /^s3:\/\/[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](\/.*)?$/.test(value), {
      message: 'expected fs:///path/to/dir or s3://bucket[/prefix]',
    }),
  // S3 endpoint for MinIO or another S3-compatible server, e.g. http://127.0.0.1:9000 (empty: AWS S3).
  GOFER_S3_ENDPOINT: z.string().url().optional(),
  // S3 region (AWS needs the bucket's; MinIO accepts any).
  GOFER_S3_REGION: z.string().default('us-east-1'),
  // S3 credentials; without them the AWS SDK's default chain applies (env, profile, instance role).
  GOFER_S3_ACCESS_KEY_ID: z.string().optional(),
  GOFER_S3_SECRET_ACCESS_KEY: z.string().optional(),
  // Path-style bucket addressing, which MinIO needs; defaults to on when GOFER_S3_ENDPOINT is set.
  GOFER_S3_FORCE_PATH_STYLE: z.enum(['true', 'false']).optional(),
  // Largest object a put may store.
  GOFER_OBJECT_MAX_BYTES: integer(1024 ** 3, 1, 2 ** 44),
  // An upload whose next message takes longer than this is aborted, so stalled clients cannot hold files and memory.
  GOFER_UPLOAD_IDLE_TIMEOUT: duration('30s').refine((ms) => ms > 0, 'must be longer than 0, e.g. 30s'),
  // Pipeline objects kept per pipeline (the oldest is evicted past it).
  GOFER_PIPELINE_OBJECT_LIMIT: integer(50, 1, 100_000),
  // Run objects are deleted once their run is older than the pipeline's last N runs.
  GOFER_RUN_OBJECT_EXPIRY: integer(20, 1, 100_000),
  // Seals secrets (AES-256-GCM): 32 bytes as base64, e.g. from `openssl rand -base64 32`. Without it the
  // secret store is off (secret calls fail with FAILED_PRECONDITION).
  GOFER_ENCRYPTION_KEY: z.string().optional(),
  // Earlier keys, comma-separated, still accepted for reading while `gofer service rotate-key` re-seals.
  GOFER_PREVIOUS_ENCRYPTION_KEYS: z.string().optional(),
  // How long events are kept.
  GOFER_EVENT_RETENTION: duration('168h'),
  // How many task containers one worker process runs at once.
  GOFER_WORKER_CONCURRENCY: integer(8, 1, 1000),
  // Names this worker in task runs and container labels; must be unique per live worker.
  GOFER_WORKER_ID: z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/).default(`${hostname()}-${process.pid}`),
  // Prefix of every Redis key Gofer writes, so several clusters (or test suites) can share one Redis.
  GOFER_REDIS_PREFIX: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/).default('gofer'),
  // Per task-run log cap; output past it is dropped with a marker line.
  GOFER_LOG_CAP_BYTES: integer(64 * 1024 * 1024, 1024, 2 ** 40),
  // Live log followers one API process serves at once (each holds a Redis connection while it blocks).
  GOFER_MAX_LOG_FOLLOWERS: integer(256, 1, 100_000),
  // Event follows (ListEvents with follow) one API process serves at once (each polls Postgres).
  GOFER_MAX_EVENT_FOLLOWERS: integer(256, 1, 100_000),
  // Live follows (logs and events together) one token holds on one API process, so one token cannot take every slot.
  GOFER_MAX_FOLLOWS_PER_TOKEN: integer(32, 1, 100_000),
  // SIGTERM → SIGKILL grace when stopping a container (cancel, timeout, shutdown).
  GOFER_STOP_GRACE: duration('10s'),
  // How often the reconciler compares Postgres with the queue (and the reaper looks for leftovers).
  GOFER_RECONCILE_INTERVAL: duration('5s'),
  // A worker silent this long is presumed dead and its running tasks adopted (in about this plus a
  // quarter of it). Shorter adopts sooner; too short presumes dead a worker whose event loop or Postgres
  // stalls that long (its attempts then move, each still started once: README, "Failure and recovery").
  GOFER_WORKER_DEAD_AFTER: duration('10s').refine((ms) => ms >= 2000, 'must be at least 2s, e.g. 10s'),
  // pino level: trace, debug, info, warn, error, fatal, silent.
  GOFER_LOG_LEVEL: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']).default('info'),
  // Built-in triggers installed at startup (comma-separated, or "none"); github only with its secret below.
  GOFER_BUILTIN_TRIGGERS: names(['cron', 'interval', 'github']),
  // Built-in notifiers installed at startup (comma-separated, or "none").
  GOFER_BUILTIN_NOTIFIERS: names(['log', 'webhook']),
  // Where the built-ins' images come from: "<prefix>trigger-cron:<version>" (CI builds them locally).
  GOFER_BUILTIN_IMAGE_PREFIX: z.string().regex(/^[A-Za-z0-9._:/-]*$/).default('gofer/'),
  // The secret GitHub signs webhooks with (X-Hub-Signature-256); the built-in github trigger needs it.
  GOFER_GITHUB_WEBHOOK_SECRET: z.string().optional(),
  // Largest webhook body /api/external/<trigger> accepts (GitHub caps its payloads at 25 MB).
  GOFER_WEBHOOK_MAX_BYTES: integer(25 * 1024 * 1024, 1024, 64 * 1024 * 1024),
  // How long a leader's lease lasts without renewal: a dead leader's duties move after at most this.
  GOFER_LEADER_LEASE: duration('15s').refine((ms) => ms >= 1000, 'must be at least 1s'),
  // How often the trigger supervisor checks each trigger's container (and restarts a dead one).
  GOFER_TRIGGER_CHECK_INTERVAL: duration('2s').refine((ms) => ms >= 100, 'must be at least 100ms'),
});

/** Names of every variable the service reads, in the schema's order (for help text and docs checks). */
export const CONFIG_VARIABLES: readonly string[] = Object.keys(environment.shape);

/** Rules between variables, each issue naming the variable to fix. */
const checkedEnvironment = environment.superRefine((e, ctx) => {
  // Mutual TLS needs both halves: one alone is a half-done setup, not a choice.
  const [cert, key] = [e.GOFER_NOMAD_CLIENT_CERT, e.GOFER_NOMAD_CLIENT_KEY];
  if ((cert === undefined) !== (key === undefined)) {
    ctx.addIssue({
      code: 'custom',
      path: [cert === undefined ? 'GOFER_NOMAD_CLIENT_KEY' : 'GOFER_NOMAD_CLIENT_CERT'],
      message: 'GOFER_NOMAD_CLIENT_CERT and GOFER_NOMAD_CLIENT_KEY go together: set both (mutual TLS) or neither',
    });
  }
});

/** The environment as the code uses it: camelCase fields, durations in milliseconds, derived defaults. */
const configSchema = checkedEnvironment.transform((e) => ({
  databaseUrl: e.GOFER_DATABASE_URL,
  databaseStatementTimeoutMs: e.GOFER_DATABASE_STATEMENT_TIMEOUT,
  redisUrl: e.GOFER_REDIS_URL,
  devServices: {
    mode: e.GOFER_DEV_SERVICES,
    name: e.GOFER_DEV_SERVICES_NAME,
    postgres: { image: e.GOFER_DEV_POSTGRES_IMAGE, port: e.GOFER_DEV_POSTGRES_PORT },
    redis: { image: e.GOFER_DEV_REDIS_IMAGE, port: e.GOFER_DEV_REDIS_PORT },
  },
  grpcAddr: e.GOFER_GRPC_ADDR,
  httpAddr: e.GOFER_HTTP_ADDR,
  advertiseAddr: e.GOFER_ADVERTISE_ADDR || e.GOFER_GRPC_ADDR,
  scheduler: e.GOFER_SCHEDULER,
  dockerHost: e.GOFER_DOCKER_HOST,
  dockerNetwork: e.GOFER_DOCKER_NETWORK,
  dockerServiceAddress: e.GOFER_DOCKER_SERVICE_ADDRESS,
  nomad: {
    address: e.GOFER_NOMAD_ADDR,
    token: e.GOFER_NOMAD_TOKEN,
    namespace: e.GOFER_NOMAD_NAMESPACE,
    region: e.GOFER_NOMAD_REGION,
    datacenters: e.GOFER_NOMAD_DATACENTERS,
    nodePool: e.GOFER_NOMAD_NODE_POOL,
    networkMode: e.GOFER_NOMAD_NETWORK_MODE,
    tls: {
      caCert: e.GOFER_NOMAD_CACERT,
      clientCert: e.GOFER_NOMAD_CLIENT_CERT,
      clientKey: e.GOFER_NOMAD_CLIENT_KEY,
      serverName: e.GOFER_NOMAD_TLS_SERVER_NAME,
      skipVerify: e.GOFER_NOMAD_SKIP_VERIFY === 'true',
    },
  },
  objectStore: e.GOFER_OBJECT_STORE,
  s3: {
    endpoint: e.GOFER_S3_ENDPOINT,
    region: e.GOFER_S3_REGION,
    accessKeyId: e.GOFER_S3_ACCESS_KEY_ID,
    secretAccessKey: e.GOFER_S3_SECRET_ACCESS_KEY,
    forcePathStyle: e.GOFER_S3_FORCE_PATH_STYLE ? e.GOFER_S3_FORCE_PATH_STYLE === 'true' : e.GOFER_S3_ENDPOINT !== undefined,
  },
  objectMaxBytes: e.GOFER_OBJECT_MAX_BYTES,
  uploadIdleTimeoutMs: e.GOFER_UPLOAD_IDLE_TIMEOUT,
  pipelineObjectLimit: e.GOFER_PIPELINE_OBJECT_LIMIT,
  runObjectExpiry: e.GOFER_RUN_OBJECT_EXPIRY,
  encryptionKey: e.GOFER_ENCRYPTION_KEY,
  previousEncryptionKeys: e.GOFER_PREVIOUS_ENCRYPTION_KEYS,
  eventRetentionMs: e.GOFER_EVENT_RETENTION,
  workerConcurrency: e.GOFER_WORKER_CONCURRENCY,
  workerId: e.GOFER_WORKER_ID,
  redisPrefix: e.GOFER_REDIS_PREFIX,
  logCapBytes: e.GOFER_LOG_CAP_BYTES,
  maxLogFollowers: e.GOFER_MAX_LOG_FOLLOWERS,
  maxEventFollowers: e.GOFER_MAX_EVENT_FOLLOWERS,
  maxFollowsPerToken: e.GOFER_MAX_FOLLOWS_PER_TOKEN,
  stopGraceMs: e.GOFER_STOP_GRACE,
  reconcileIntervalMs: e.GOFER_RECONCILE_INTERVAL,
  workerDeadAfterMs: e.GOFER_WORKER_DEAD_AFTER,
  logLevel: e.GOFER_LOG_LEVEL,
  builtinTriggers: e.GOFER_BUILTIN_TRIGGERS,
  builtinNotifiers: e.GOFER_BUILTIN_NOTIFIERS,
  builtinImagePrefix: e.GOFER_BUILTIN_IMAGE_PREFIX,
  githubWebhookSecret: e.GOFER_GITHUB_WEBHOOK_SECRET,
  webhookMaxBytes: e.GOFER_WEBHOOK_MAX_BYTES,
  leaderLeaseMs: e.GOFER_LEADER_LEASE,
  triggerCheckIntervalMs: e.GOFER_TRIGGER_CHECK_INTERVAL,
}));

/** The validated service configuration; its type follows from the schema above. */
export type GoferConfig = z.output<typeof configSchema>;

/** Thrown when the environment is invalid; the message names every bad variable, one per line. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

/** Variables whose values are secrets, never shown in an error message. */
const SECRET_VARIABLES = new Set(['GOFER_ENCRYPTION_KEY', 'GOFER_PREVIOUS_ENCRYPTION_KEYS', 'GOFER_S3_SECRET_ACCESS_KEY', 'GOFER_GITHUB_WEBHOOK_SECRET', 'GOFER_NOMAD_TOKEN']);

/** Reads and validates the GOFER_* environment. Throws {@link ConfigError} naming each bad variable. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): GoferConfig {
  const relevant = Object.fromEntries(
    Object.entries(env).filter(([key, value]) => key.startsWith('GOFER_') && value !== undefined && value !== ''),
  );
  const parsed = configSchema.safeParse(relevant);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((issue) => {
      const name = String(issue.path[0] ?? 'environment');
      // Never echo a secret: keys are hidden whole, URLs keep everything but their credentials.
      const shown = SECRET_VARIABLES.has(name) ? '***' : redactUrl(String(relevant[name] ?? ''));
      return `${name}=${JSON.stringify(shown)}: ${issue.message}`;
    });
    throw new ConfigError(`invalid configuration:\n  ${lines.join('\n  ')}`);
  }
  return parsed.data;
}

/** Splits HOST:PORT (IPv6 in brackets) into its parts. */
export function splitAddress(address: string): { host: string; port: number } {
  const index = address.lastIndexOf(':');
  return { host: address.slice(0, index).replace(/^\[|\]$/g, ''), port: Number(address.slice(index + 1)) };
}

/** Injection token for {@link GoferConfig} in Nest modules. */
export const GOFER_CONFIG = Symbol('GOFER_CONFIG');

/** Injection token of the process's pino logger. */
export const LOGGER = Symbol('LOGGER');
