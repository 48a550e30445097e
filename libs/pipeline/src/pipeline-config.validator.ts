import type { z } from 'zod';
import { type ConfigIssue, type ConfigPath, formatConfigPath, quoteForMessage, ROOT_PATH } from './config-issue.js';
import { findDependencyCycles } from './dag.js';
import { didYouMean } from './did-you-mean.js';
import {
  type DependsOn,
  type ParseResult,
  type PipelineConfig,
  PIPELINE_LIMITS as LIMITS,
  type TaskConfig,
} from './pipeline-config.js';
import {
  type CheckedPipelineDocument,
  type CheckedTaskDocument,
  describeValue,
  isMapping,
  pipelineDocumentSchema,
  type UnknownFieldParams,
} from './pipeline-config.schema.js';

interface Finding {
  path: ConfigPath;
  message: string;
}

// Top-level fields in the order issues about them are listed; anything else (unknown fields) after.
const FIELD_ORDER = ['id', 'name', 'description', 'parallelism', 'tasks', 'triggers', 'notifiers'];

/**
 * Validates a pipeline document (snake_case, as written in YAML/JSON or built by the SDK) and turns
 * it into a {@link PipelineConfig}. Every problem is reported, each with its path and cause, in
 * document order (at most {@link PIPELINE_LIMITS.maxReportedIssues}, then a line saying how many
 * more there are).
 *
 * Beyond the fields of DESIGN §2: top-level fields starting with `x-` are ignored, so YAML anchors
 * can be kept there (`x-defaults: &defaults …`) as in Docker Compose; `script:` becomes
 * `entrypoint: [/bin/sh, -c]` plus `command: [script]`; `name` defaults to the id and
 * `parallelism` to 0 (unlimited).
 */
export function validatePipelineConfig(doc: unknown): ParseResult {
  if (!isMapping(doc)) {
    const message =
      doc === null || doc === undefined
        ? 'the config is empty; a pipeline needs at least an id and tasks'
        : `expected a mapping of pipeline fields (id, name, tasks …), got ${describeValue(doc)}`;
    return { ok: false, errors: [{ path: ROOT_PATH, message }] };
  }
  const sizeProblem = expandedSizeProblem(doc, LIMITS.maxExpandedBytes);
  if (sizeProblem !== undefined) return { ok: false, errors: [{ path: ROOT_PATH, message: sizeProblem }] };

  const findings: Finding[] = [];
  const document = Object.fromEntries(Object.entries(doc).filter(([key]) => !key.startsWith('x-')));
  const parsed = pipelineDocumentSchema.safeParse(bounded(document, findings));
  if (!parsed.success) findings.push(...parsed.error.issues.map(fromZodIssue));
  // On all tasks, even past the limit, so that dependencies on them are not reported as unknown.
  findings.push(...crossFieldFindings(document));
  if (findings.length > 0) return { ok: false, errors: report(findings) };
  return { ok: true, config: toPipelineConfig(parsed.data!) };
}

/** A shallow copy with lists cut to their limits (reported once each), to bound the work. */
function bounded(doc: Record<string, unknown>, findings: Finding[]): Record<string, unknown> {
  const document = { ...doc };
  const bounds = [
    ['tasks', LIMITS.maxTasks, 'split the pipeline into several'],
    ['triggers', LIMITS.maxTriggers, 'remove some'],
    ['notifiers', LIMITS.maxNotifiers, 'remove some'],
  ] as const;
  for (const [field, max, advice] of bounds) {
    const list = document[field];
    if (Array.isArray(list) && list.length > max) {
      const message = `too many ${field} (${list.length}): at most ${max} are allowed; ${advice}`;
      findings.push({ path: [field], message });
      document[field] = list.slice(0, max);
    }
  }
  return document;
}

function fromZodIssue(issue: z.core.$ZodIssue): Finding {
  const params = (issue as { params?: Partial<UnknownFieldParams> }).params;
  if (params?.unknownField === true && issue.path.length > 0) {
    const field = String(issue.path[issue.path.length - 1]);
    const known = params.knownFields ?? [];
    const hint = didYouMean(field, known);
    const message = hint !== '' ? `unknown field${hint}` : `unknown field; known fields are ${known.join(', ')}`;
    return { path: issue.path, message };
  }
  return { path: issue.path, message: issue.message };
}

/** Rules spanning several fields. Checked on the raw document, so they run even when fields are wrong. */
function crossFieldFindings(document: Record<string, unknown>): Finding[] {
  const findings: Finding[] = [];
  const tasks = Array.isArray(document.tasks) ? document.tasks : [];
  const idOf = (task: unknown): string | undefined => {
    if (!isMapping(task)) return undefined;
    const id = task.id;
    return typeof id === 'string' || typeof id === 'number' ? String(id) : undefined;
  };

  const firstIndexOf = new Map<string, number>();
  tasks.forEach((task, index) => {
    const id = idOf(task);
    if (id === undefined) return;
    const first = firstIndexOf.get(id);
    if (first === undefined) firstIndexOf.set(id, index);
    else {
      const message = `duplicate task id ${quoteForMessage(id)} (also tasks[${first}])`;
      findings.push({ path: ['tasks', index, 'id'], message });
    }
  });

  const parentsOf = new Map<string, string[]>();
  tasks.forEach((task, index) => {
    if (!isMapping(task)) return;
    if (task.script != null && (task.command != null || task.entrypoint != null)) {
      findings.push({
        path: ['tasks', index, 'script'],
        message: 'cannot be combined with command or entrypoint: put the whole command in the script, or drop script',
      });
    }
    if (!isMapping(task.depends_on)) return;
    const id = idOf(task);
    const parents: string[] = [];
    for (const parent of Object.keys(task.depends_on)) {
      const path = ['tasks', index, 'depends_on', parent];
      if (parent === id) findings.push({ path, message: 'a task cannot depend on itself' });
      else if (!firstIndexOf.has(parent)) {
        const message = `unknown task ${quoteForMessage(parent)}${didYouMean(parent, firstIndexOf.keys())}`;
        findings.push({ path, message });
      } else parents.push(parent);
    }
    // A duplicated id already has its own error; its first definition stands for it in the graph.
    if (id !== undefined && firstIndexOf.get(id) === index) parentsOf.set(id, parents);
  });
  for (const cycle of findDependencyCycles([...firstIndexOf.keys()], (id) => parentsOf.get(id) ?? [])) {
    findings.push({ path: ['tasks'], message: `cycle ${cycle.join(' -> ')}` });
  }

  for (const field of ['triggers', 'notifiers'] as const) {
    const list = Array.isArray(document[field]) ? (document[field] as unknown[]) : [];
    const firstIndexOfLabel = new Map<string, number>();
    list.forEach((entry, index) => {
      if (!isMapping(entry) || typeof entry.label !== 'string') return;
      const first = firstIndexOfLabel.get(entry.label);
      if (first === undefined) firstIndexOfLabel.set(entry.label, index);
      else {
        findings.push({
          path: [field, index, 'label'],
          message: `duplicate label ${quoteForMessage(entry.label)} (also ${field}[${first}])`,
        });
      }
    });
  }
  return findings;
}

/** Orders findings by place in the document (stable within a place), caps them, renders paths. */
function report(findings: Finding[]): ConfigIssue[] {
  const rank = (finding: Finding): [number, number] => {
    const [field, index] = finding.path;
    const fieldRank = finding.path.length === 0 ? -1 : FIELD_ORDER.indexOf(String(field));
    const unknownField = fieldRank === -1 && finding.path.length > 0;
    // Issues about a whole list (`tasks: cycle …`) come after those about its entries.
    return [unknownField ? FIELD_ORDER.length : fieldRank, typeof index === 'number' ? index : Infinity];
  };
  const ordered = findings
    .map((finding, position) => ({ finding, position, rank: rank(finding) }))
    .sort((a, b) => a.rank[0] - b.rank[0] || a.rank[1] - b.rank[1] || a.position - b.position)
    .map(({ finding }) => ({ path: formatConfigPath(finding.path), message: finding.message }));
  const max = LIMITS.maxReportedIssues;
  if (ordered.length <= max) return ordered;
  const rest = { path: ROOT_PATH, message: `${ordered.length - max} more errors not shown; fix the ones above first` };
  return [...ordered.slice(0, max), rest];
}

/**
 * Why a document is unfit to validate, if it is: YAML aliases (or shared objects in code) can make a
 * small text stand for a huge document, and a document may even contain itself.
 */
function expandedSizeProblem(doc: object, limit: number): string | undefined {
  const sizes = new Map<object, number>();
  const visiting = new Set<object>();
  const sizeOf = (value: unknown): number => {
    if (typeof value === 'string') return value.length + 2;
    if (typeof value !== 'object' || value === null) return 8;
    const known = sizes.get(value);
    if (known !== undefined) return known;
    if (visiting.has(value)) throw new CircularDocument();
    visiting.add(value);
    let size = 2;
    if (Array.isArray(value)) for (const item of value) size += sizeOf(item) + 1;
    else for (const [key, item] of Object.entries(value)) size += key.length + 4 + sizeOf(item);
    visiting.delete(value);
    sizes.set(value, size);
    return size;
  };
  try {
    if (sizeOf(doc) <= limit) return undefined;
    return `the config expands to more than ${limit / (1024 * 1024)} MiB (YAML aliases repeating large parts?); make it smaller`;
  } catch (error) {
    if (error instanceof CircularDocument) return 'the config contains itself (a YAML alias inside its own anchor?)';
    if (error instanceof RangeError) return 'the config is nested too deeply';
    throw error;
  }
}

class CircularDocument extends Error {}

function toPipelineConfig(document: CheckedPipelineDocument): PipelineConfig {
  return {
    id: document.id,
    name: document.name || document.id,
    description: document.description ?? '',
    parallelism: document.parallelism ?? 0,
    tasks: document.tasks.map(toTaskConfig),
    triggers: (document.triggers ?? []).map((entry) => ({
      trigger: entry.trigger,
      label: entry.label,
      settings: entry.settings ?? {},
    })),
    notifiers: (document.notifiers ?? []).map((entry) => ({
      notifier: entry.notifier,
      label: entry.label,
      settings: entry.settings ?? {},
    })),
  };
}

function toTaskConfig(task: CheckedTaskDocument): TaskConfig {
  const cpu = task.resources?.cpu ?? undefined;
  const memoryBytes = task.resources?.memory ?? undefined;
  return {
    id: task.id,
    description: task.description ?? '',
    image: task.image,
    ...(task.script != null
      ? { entrypoint: ['/bin/sh', '-c'], command: [task.script] }
      : {
          ...(task.entrypoint != null && { entrypoint: task.entrypoint }),
          ...(task.command != null && { command: task.command }),
        }),
    variables: task.variables ?? {},
    dependsOn: (task.depends_on ?? {}) as Record<string, DependsOn>,
    retries: { attempts: task.retries?.attempts ?? 1, backoffMs: task.retries?.backoff ?? 0 },
    ...(task.timeout != null && { timeoutMs: task.timeout }),
    ...(task.registry_auth != null && { registryAuth: { user: task.registry_auth.user, pass: task.registry_auth.pass } }),
    injectApiToken: task.inject_api_token ?? false,
    ...((cpu !== undefined || memoryBytes !== undefined) && {
      resources: { ...(cpu !== undefined && { cpu }), ...(memoryBytes !== undefined && { memoryBytes }) },
    }),
  };
}
