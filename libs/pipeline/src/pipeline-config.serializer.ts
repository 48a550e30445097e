import { formatDuration } from './duration.js';
import { formatMemorySize } from './memory-size.js';
import type { PipelineConfig, PipelineDocument, TaskConfig, TaskDocument } from './pipeline-config.js';

/**
 * Turns a validated config back into the document users write (snake_case, durations like `1m30s`,
 * memory like `256Mi`), leaving out fields at their defaults. Validating the result gives back an
 * equal config; a `script:` comes back as its `entrypoint` and `command`.
 */
export function toPipelineDocument(config: PipelineConfig): PipelineDocument {
  const document: PipelineDocument = { id: config.id, tasks: [] };
  if (config.name !== config.id) document.name = config.name;
  if (config.description !== '') document.description = config.description;
  if (config.parallelism !== 0) document.parallelism = config.parallelism;
  document.tasks = config.tasks.map(toTaskDocument);
  if (config.triggers.length > 0) {
    document.triggers = config.triggers.map(({ trigger, label, settings }) => ({
      trigger,
      label,
      ...nonEmpty('settings', settings),
    }));
  }
  if (config.notifiers.length > 0) {
    document.notifiers = config.notifiers.map(({ notifier, label, settings }) => ({
      notifier,
      label,
      ...nonEmpty('settings', settings),
    }));
  }
  return document;
}

function toTaskDocument(task: TaskConfig): TaskDocument {
  const document: TaskDocument = { id: task.id, image: task.image };
  if (task.description !== '') document.description = task.description;
  if (task.entrypoint !== undefined) document.entrypoint = [...task.entrypoint];
  if (task.command !== undefined) document.command = [...task.command];
  Object.assign(document, nonEmpty('variables', task.variables), nonEmpty('depends_on', task.dependsOn));
  if (task.retries.attempts !== 1 || task.retries.backoffMs !== 0) {
    document.retries = { attempts: task.retries.attempts };
    if (task.retries.backoffMs !== 0) document.retries.backoff = formatDuration(task.retries.backoffMs);
  }
  if (task.timeoutMs !== undefined) document.timeout = formatDuration(task.timeoutMs);
  if (task.registryAuth !== undefined) document.registry_auth = { ...task.registryAuth };
  if (task.injectApiToken) document.inject_api_token = true;
  if (task.resources !== undefined) {
    document.resources = {};
    if (task.resources.cpu !== undefined) document.resources.cpu = task.resources.cpu;
    if (task.resources.memoryBytes !== undefined) document.resources.memory = formatMemorySize(task.resources.memoryBytes);
  }
  return document;
}

function nonEmpty<K extends string, V>(key: K, map: Record<string, V>): { [key in K]?: Record<string, V> } {
  return Object.keys(map).length > 0 ? ({ [key]: { ...map } } as { [key in K]: Record<string, V> }) : {};
}
