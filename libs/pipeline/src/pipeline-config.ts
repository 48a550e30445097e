import type { ConfigIssue } from './config-issue.js';

/**
 * What a task needs from one parent before it runs (docs/design.md §2):
 * - `success`: the parent ended successful;
 * - `failure`: the parent ended failed;
 * - `any`: the parent ended successful, failed or skipped (a cancelled parent does not satisfy it).
 */
export type DependsOn = 'success' | 'failure' | 'any';

/** Every {@link DependsOn} value, in the order messages list them. */
export const DEPENDS_ON_VALUES: readonly DependsOn[] = ['success', 'failure', 'any'];

/** Credentials for pulling a task's image; values may hold interpolations resolved at run time. */
export interface RegistryAuth {
  user: string;
  pass: string;
}

/** How often a task is tried and how long to wait between tries. */
export interface RetryPolicy {
  /** Total tries, the first one included (1 = no retry). @default 1 */
  attempts: number;
  /** Wait before the second try; it doubles for each later try (see `retryDelayMs`). @default 0 */
  backoffMs: number;
}

/** Resource limits for a task's container. */
export interface TaskResources {
  /** CPUs (fractions allowed, e.g. 0.5). */
  cpu?: number;
  /** Memory limit in bytes. */
  memoryBytes?: number;
}

/** One task of a validated pipeline: a container image plus how and when to run it. */
export interface TaskConfig {
  id: string;
  /** @default '' */
  description: string;
  image: string;
  /** Overrides the image's entrypoint. A `script:` becomes `['/bin/sh', '-c']`. */
  entrypoint?: string[];
  /** Arguments to the entrypoint. A `script:` becomes `[script]`. */
  command?: string[];
  /**
   * Environment variables, values verbatim: interpolations such as `pipeline_secret{{KEY}}` are
   * resolved when the task runs (their syntax is checked here).
   * @default {}
   */
  variables: Record<string, string>;
  /** Parent task id → what this task needs from it. @default {} */
  dependsOn: Record<string, DependsOn>;
  /** @default { attempts: 1, backoffMs: 0 } */
  retries: RetryPolicy;
  /** The container is stopped and the task fails with reason `timeout` after this long. */
  timeoutMs?: number;
  registryAuth?: RegistryAuth;
  /** Give the task a run-scoped API token in `GOFER_TOKEN`. @default false */
  injectApiToken: boolean;
  resources?: TaskResources;
}

/** A trigger the pipeline subscribes to: `trigger` names an installed trigger, `label` this use of it. */
export interface TriggerSubscription {
  trigger: string;
  label: string;
  /** @default {} */
  settings: Record<string, string>;
}

/** A notifier run after each run of the pipeline completes. */
export interface NotifierSubscription {
  notifier: string;
  label: string;
  /** Passed to the notifier as `GOFER_NOTIFIER_CONFIG_<KEY>`. @default {} */
  settings: Record<string, string>;
}

/** A validated pipeline configuration (camelCase; the YAML document is {@link PipelineDocument}). */
export interface PipelineConfig {
  id: string;
  /** @default the pipeline id */
  name: string;
  /** @default '' */
  description: string;
  /** Maximum runs in flight; extra runs wait in state `pending`. 0 = unlimited. @default 0 */
  parallelism: number;
  /** In the order the config lists them. */
  tasks: TaskConfig[];
  /** @default [] */
  triggers: TriggerSubscription[];
  /** @default [] */
  notifiers: NotifierSubscription[];
}

/** The outcome of parsing or validating a config: the config, or every problem found. */
export type ParseResult = { ok: true; config: PipelineConfig } | { ok: false; errors: ConfigIssue[] };

/**
 * A pipeline config as users write it in YAML or JSON (snake_case), e.g. what the SDK builds.
 * See docs/design.md §2 for an example.
 */
export interface PipelineDocument {
  id: string;
  name?: string;
  description?: string;
  parallelism?: number;
  tasks: TaskDocument[];
  triggers?: { trigger: string; label: string; settings?: Record<string, string> }[];
  notifiers?: { notifier: string; label: string; settings?: Record<string, string> }[];
}

/** One task as written in a {@link PipelineDocument}. */
export interface TaskDocument {
  id: string;
  description?: string;
  image: string;
  entrypoint?: string[];
  command?: string[];
  /** Shorthand for `entrypoint: [/bin/sh, -c]` plus `command: [script]`; excludes both. */
  script?: string;
  variables?: Record<string, string>;
  depends_on?: Record<string, DependsOn>;
  /** `backoff` is a duration such as `2s`. */
  retries?: { attempts: number; backoff?: string };
  /** A duration such as `10m`. */
  timeout?: string;
  registry_auth?: RegistryAuth;
  inject_api_token?: boolean;
  /** `cpu` in CPUs (`0.5`) or millicores (`"500m"`); `memory` like `256Mi`, `1Gi`, `512M` or bytes. */
  resources?: { cpu?: number | string; memory?: string | number };
}

/** Bounds that keep configs, the database rows made from them and the scheduler sane. */
export const PIPELINE_LIMITS = {
  /** Default cap on the size of a config file. */
  maxConfigBytes: 1024 * 1024,
  /** Cap on the data a config may expand to through YAML aliases (or shared objects). */
  maxExpandedBytes: 8 * 1024 * 1024,
  // A 2,000-task DAG must stay usable in the web UI and the engine (bench/web-ui.bench.mjs measures it).
  maxTasks: 2000,
  maxTriggers: 50,
  maxNotifiers: 50,
  maxParallelism: 1000,
  maxNameLength: 128,
  maxDescriptionLength: 4096,
  maxImageLength: 1024,
  maxRetryAttempts: 10,
  maxRetryBackoffMs: 3_600_000,
  /** Cap on one exponential retry delay. */
  maxRetryDelayMs: 3_600_000,
  /** A week: long enough for any batch job, short enough to catch a task stuck forever. */
  maxTimeoutMs: 7 * 24 * 3_600_000,
  maxCpu: 1024,
  /** The smallest memory limit a task may ask for: container engines refuse less (Docker: 6 MiB). */
  minMemoryBytes: 6 * 1024 * 1024,
  /** Issues reported per config; beyond this one summary line says how many more there are. */
  maxReportedIssues: 100,
} as const;
