/**
 * Builds a Gofer pipeline config in code: the same document as a YAML or JSON file
 * (docs/design.md §2), which `gofer pipeline apply` and the ApplyPipelineConfig RPC accept as JSON.
 * This module imports nothing, so the SDK can be packed and used on its own.
 *
 * @example
 * ```ts
 * const hello = pipeline('hello')
 *   .description('Says hello, then branches.')
 *   .task(task('greet', 'busybox:latest').command('sh', '-c', 'echo "hello $WHO"').variable('WHO', 'world'))
 *   .task(task('finally', 'busybox:latest').script('echo done').dependsOn('greet', 'any'))
 *   .trigger('cron', 'nightly', { expression: '0 3 * * *' });
 * await writeFile('hello.json', JSON.stringify(hello.build()));
 * ```
 */

/** What a dependent needs of its parent: `success`, `failure`, or `any` (ended successful, failed or skipped). */
export type DependsOn = 'success' | 'failure' | 'any';

/** Credentials for pulling a task's image; values may use interpolation, e.g. {@link globalSecret}. */
export interface RegistryAuth {
  user: string;
  pass: string;
}

/** One task of a {@link PipelineDocument}, as written in a config file. */
export interface TaskDocument {
  id: string;
  description?: string;
  image: string;
  entrypoint?: string[];
  command?: string[];
  script?: string;
  variables?: Record<string, string>;
  depends_on?: Record<string, DependsOn>;
  retries?: { attempts: number; backoff?: string };
  timeout?: string;
  registry_auth?: RegistryAuth;
  inject_api_token?: boolean;
  resources?: { cpu?: number | string; memory?: string | number };
}

/** A pipeline config as written in a config file (snake_case keys). */
export interface PipelineDocument {
  id: string;
  name?: string;
  description?: string;
  parallelism?: number;
  tasks: TaskDocument[];
  triggers?: { trigger: string; label: string; settings?: Record<string, string> }[];
  notifiers?: { notifier: string; label: string; settings?: Record<string, string> }[];
}

/** `pipeline_secret{{KEY}}`: the pipeline's secret `key`, interpolated when the task starts. */
export const pipelineSecret = (key: string): string => `pipeline_secret{{${key}}}`;
/** `global_secret{{KEY}}`: a global secret the pipeline's namespace may use. */
export const globalSecret = (key: string): string => `global_secret{{${key}}}`;
/** `pipeline_object{{KEY}}`: the content of one of the pipeline's objects. */
export const pipelineObject = (key: string): string => `pipeline_object{{${key}}}`;
/** `run_object{{KEY}}`: the content of one of the run's objects. */
export const runObject = (key: string): string => `run_object{{${key}}}`;

/** Builds one task; start with {@link task}. Every method returns the builder. */
export class TaskBuilder {
  private readonly document: TaskDocument;

  constructor(id: string, image: string) {
    this.document = { id, image };
  }

  /** A human description of the task. */
  description(text: string): this {
    this.document.description = text;
    return this;
  }

  /** Replaces the image's entrypoint. */
  entrypoint(...args: string[]): this {
    this.document.entrypoint = args;
    return this;
  }

  /** The command (arguments to the entrypoint). */
  command(...args: string[]): this {
    this.document.command = args;
    return this;
  }

  /** A shell script: shorthand for entrypoint `[/bin/sh, -c]` with the script as command; excludes both. */
  script(text: string): this {
    this.document.script = text;
    return this;
  }

  /** An environment variable of the task (takes precedence over run and system variables). */
  variable(name: string, value: string): this {
    this.document.variables = { ...this.document.variables, [name]: value };
    return this;
  }

  /**
   * Runs this task after `parent` ended as `requirement` requires.
   * @default requirement `success`
   */
  dependsOn(parent: string, requirement: DependsOn = 'success'): this {
    this.document.depends_on = { ...this.document.depends_on, [parent]: requirement };
    return this;
  }

  /**
   * Retries a failed attempt up to `attempts` times, waiting `backoff` (a duration like `2s`) doubled
   * after each failure.
   */
  retries(attempts: number, backoff?: string): this {
    this.document.retries = backoff === undefined ? { attempts } : { attempts, backoff };
    return this;
  }

  /** Stops the task after `duration` (like `10m`); it fails with reason `timeout`. */
  timeout(duration: string): this {
    this.document.timeout = duration;
    return this;
  }

  /** Credentials to pull the image with. */
  registryAuth(user: string, pass: string): this {
    this.document.registry_auth = { user, pass };
    return this;
  }

  /** Gives the task a run-scoped API token in `GOFER_TOKEN`, revoked when the run completes. */
  injectApiToken(inject = true): this {
    this.document.inject_api_token = inject;
    return this;
  }

  /** Resource limits: `cpu` in CPUs (`0.5`) or millicores (`"500m"`); `memory` like `256Mi`. */
  resources(limits: { cpu?: number | string; memory?: string | number }): this {
    this.document.resources = { ...limits };
    return this;
  }

  /** The task as written in a config file (a copy: later changes to the builder do not affect it). */
  build(): TaskDocument {
    return structuredClone(this.document);
  }
}

/** Builds one pipeline; start with {@link pipeline}. Every method but {@link PipelineBuilder.build} returns the builder. */
export class PipelineBuilder {
  private readonly document: PipelineDocument;

  constructor(id: string) {
    this.document = { id, tasks: [] };
  }

  /** A display name. @default the id */
  name(text: string): this {
    this.document.name = text;
    return this;
  }

  description(text: string): this {
    this.document.description = text;
    return this;
  }

  /** Most runs in flight at once; more wait as pending. @default 0 (unlimited) */
  parallelism(runs: number): this {
    this.document.parallelism = runs;
    return this;
  }

  /** Adds a task (a {@link TaskBuilder} or a task as written in a config file). */
  task(task: TaskBuilder | TaskDocument): this {
    this.document.tasks.push(task instanceof TaskBuilder ? task.build() : structuredClone(task));
    return this;
  }

  /** Subscribes the pipeline to an installed trigger, e.g. `trigger('cron', 'nightly', { expression: '0 3 * * *' })`. */
  trigger(trigger: string, label: string, settings?: Record<string, string>): this {
    (this.document.triggers ??= []).push(settings === undefined ? { trigger, label } : { trigger, label, settings: { ...settings } });
    return this;
  }

  /** Runs an installed notifier after every run of the pipeline. */
  notifier(notifier: string, label: string, settings?: Record<string, string>): this {
    (this.document.notifiers ??= []).push(settings === undefined ? { notifier, label } : { notifier, label, settings: { ...settings } });
    return this;
  }

  /** The config document; `JSON.stringify` it for `gofer pipeline apply` or ApplyPipelineConfig. */
  build(): PipelineDocument {
    return structuredClone(this.document);
  }

  /** Lets `JSON.stringify(builder)` write the config document. */
  toJSON(): PipelineDocument {
    return this.build();
  }
}

/** Starts a pipeline config with its id (`^[a-z0-9][a-z0-9_-]{2,31}$`). */
export function pipeline(id: string): PipelineBuilder {
  return new PipelineBuilder(id);
}

/** Starts a task with its id and container image. */
export function task(id: string, image: string): TaskBuilder {
  return new TaskBuilder(id, image);
}
