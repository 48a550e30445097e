import type { RunEntity } from '@gofer/dal';
import type { TaskConfig } from '@gofer/pipeline';
import type { TaskAttemptKey } from '@gofer/queue';
import type { ContainerSpec } from '@gofer/scheduler';

/** Matches `pipeline_secret{{KEY}}` and the other interpolation kinds of DESIGN §2. */
const INTERPOLATION = /(pipeline_secret|global_secret|pipeline_object|run_object)\{\{([^}]*)\}\}/;

/** Raised when a task's container spec cannot be built; the task fails with `failed_precondition`. */
export class SpecError extends Error {}

/** Container name of a task attempt: deterministic, so a second worker finds (adopts) it. */
export function containerName(clusterId: string, key: TaskAttemptKey): string {
  return `gofer.${clusterId.slice(0, 8)}.${key.namespaceId}.${key.pipelineId}.${key.runId}.${key.taskId}.${key.attempt}`;
}

export function containerLabels(clusterId: string, key: TaskAttemptKey): Record<string, string> {
  return {
    'gofer.cluster': clusterId,
    'gofer.namespace': key.namespaceId,
    'gofer.pipeline': key.pipelineId,
    'gofer.run': String(key.runId),
    'gofer.task': key.taskId,
    'gofer.attempt': String(key.attempt),
  };
}

/**
 * The container of one attempt. Environment precedence (DESIGN §9): pipeline (task) variables over run
 * variables (incl. trigger variables) over system variables.
 */
export function buildContainerSpec(options: {
  clusterId: string;
  key: TaskAttemptKey;
  task: TaskConfig;
  run: Pick<RunEntity, 'variables'>;
  goferHost: string;
}): ContainerSpec {
  const { key, task, run } = options;
  const system: Record<string, string> = {
    GOFER_NAMESPACE: key.namespaceId,
    GOFER_PIPELINE_ID: key.pipelineId,
    GOFER_RUN_ID: String(key.runId),
    GOFER_TASK_ID: key.taskId,
    GOFER_TASK_IMAGE: task.image,
    GOFER_TASK_ATTEMPT: String(key.attempt),
    GOFER_HOST: options.goferHost,
  };
  const env = { ...system, ...run.variables, ...task.variables };
  for (const [name, value] of Object.entries(env)) {
    const match = INTERPOLATION.exec(value);
    // The secret and object stores arrive in a later release; until then say so instead of passing
    // the literal placeholder to the container.
    if (match) throw new SpecError(`variable ${name} uses ${match[1]}{{${match[2]}}}, but the ${match[1].includes('secret') ? 'secret' : 'object'} store is not available in this version`);
  }
  for (const field of ['user', 'pass'] as const) {
    const value = task.registryAuth?.[field];
    if (value && INTERPOLATION.test(value)) {
      throw new SpecError(`registry_auth.${field} uses interpolation, which is not available in this version`);
    }
  }
  return {
    name: containerName(options.clusterId, key),
    image: task.image,
    entrypoint: task.entrypoint,
    command: task.command,
    env,
    labels: containerLabels(options.clusterId, key),
    registryAuth: task.registryAuth,
    resources: task.resources,
  };
}
