import type { RunEntity } from '@gofer/dal';
import { interpolate, scanInterpolations, type TaskConfig } from '@gofer/pipeline';
import { taskContainerLabels, taskContainerName, type TaskAttemptKey } from '@gofer/queue';
import type { ContainerSpec } from '@gofer/scheduler';

/** Raised when a task's container spec cannot be built; the task fails with `failed_precondition`. */
export class SpecError extends Error {}

/** What a task's interpolations name, by kind (docs/design.md §2). */
export interface InterpolationNeeds {
  pipelineSecrets: string[];
  globalSecrets: string[];
  pipelineObjects: string[];
  runObjects: string[];
  /** Environment variables whose value includes a secret: their values are masked in the logs. */
  secretVariables: string[];
}

/** Looked-up values by `kind{{KEY}}` reference text, e.g. `pipeline_secret{{TOKEN}}` → value. */
export type InterpolationValues = ReadonlyMap<string, string>;

/** The environment before interpolation (precedence: task variables > run variables > system). */
function rawEnvironment(key: TaskAttemptKey, task: TaskConfig, run: Pick<RunEntity, 'variables'>, goferHost: string): Record<string, string> {
  const system: Record<string, string> = {
    GOFER_NAMESPACE: key.namespaceId,
    GOFER_PIPELINE_ID: key.pipelineId,
    GOFER_RUN_ID: String(key.runId),
    GOFER_TASK_ID: key.taskId,
    GOFER_TASK_IMAGE: task.image,
    GOFER_TASK_ATTEMPT: String(key.attempt),
    GOFER_HOST: goferHost,
  };
  return { ...system, ...run.variables, ...task.variables };
}

function interpolatedValues(env: Record<string, string>, task: TaskConfig): Array<[string, string]> {
  const values: Array<[string, string]> = Object.entries(env).map(([name, value]) => [`variable ${name}`, value]);
  for (const field of ['user', 'pass'] as const) {
    const value = task.registryAuth?.[field];
    if (value) values.push([`registry_auth.${field}`, value]);
  }
  return values;
}

/** Which secrets and objects a task attempt's environment and registry credentials refer to. */
export function interpolationNeeds(options: { key: TaskAttemptKey; task: TaskConfig; run: Pick<RunEntity, 'variables'> }): InterpolationNeeds {
  const env = rawEnvironment(options.key, options.task, options.run, '');
  const needs = { pipeline_secret: new Set<string>(), global_secret: new Set<string>(), pipeline_object: new Set<string>(), run_object: new Set<string>() };
  const problems: string[] = [];
  const secretVariables = new Set<string>();
  for (const [where, value] of interpolatedValues(env, options.task)) {
    const scan = scanInterpolations(value);
    for (const ref of scan.refs) {
      needs[ref.kind].add(ref.key);
      if (ref.kind.endsWith('_secret') && where.startsWith('variable ')) secretVariables.add(where.slice('variable '.length));
    }
    for (const error of scan.errors) problems.push(`${where}: ${error}`);
  }
  // Run variables are checked here (configs were checked when applied).
  if (problems.length > 0) throw new SpecError(problems.join('; '));
  return {
    pipelineSecrets: [...needs.pipeline_secret], globalSecrets: [...needs.global_secret],
    pipelineObjects: [...needs.pipeline_object], runObjects: [...needs.run_object],
    secretVariables: [...secretVariables],
  };
}

/**
 * The container of one attempt, with every interpolation replaced by its looked-up value. Environment
 * precedence (docs/design.md §9): pipeline (task) variables over run variables (incl. trigger variables) over
 * system variables.
 */
export function buildContainerSpec(options: {
  clusterId: string;
  key: TaskAttemptKey;
  task: TaskConfig;
  run: Pick<RunEntity, 'variables'>;
  goferHost: string;
  values?: InterpolationValues;
  /** Extra system variables (GOFER_TOKEN), which variables of the same name cannot override. */
  extraEnv?: Record<string, string>;
}): ContainerSpec {
  const { key, task, run } = options;
  const values = options.values ?? new Map<string, string>();
  const substitute = (where: string, value: string) =>
    interpolate(value, (ref) => {
      const text = `${ref.kind}{{${ref.key}}}`;
      const found = values.get(text);
      if (found === undefined) throw new SpecError(`${where} uses ${text}, which was not looked up`);
      return found;
    });
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(rawEnvironment(key, task, run, options.goferHost))) {
    env[name] = substitute(`variable ${name}`, value);
  }
  Object.assign(env, options.extraEnv);
  const registryAuth = task.registryAuth && {
    user: substitute('registry_auth.user', task.registryAuth.user),
    pass: substitute('registry_auth.pass', task.registryAuth.pass),
  };
  return {
    name: taskContainerName(options.clusterId, key),
    image: task.image,
    entrypoint: task.entrypoint,
    command: task.command,
    env,
    labels: taskContainerLabels(options.clusterId, key),
    registryAuth,
    resources: task.resources,
  };
}
