import type { z } from 'zod';
import { type ConfigIssue, type ConfigPath, formatConfigPath, quoteForMessage, ROOT_PATH } from './config-issue.js';
import { findDependencyCycles } from './dag.js';
import { didYouMean, SuggestionBudget } from './did-you-mean.js';
import {
  type DependsOn,
  type ParseResult,
  type PipelineConfig,
  PIPELINE_LIMITS as LIMITS,
  type TaskConfig,
} from './pipeline-config.js';
import { isValidId, TASK_ID } from './ids.js';
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
  /** A function when the message holds a guess (did you mean …): made only if the finding is reported. */
  message: string | ((suggestions: SuggestionBudget) => string);
}

/**
 * Comparisons the guesses for one document may cost in all (see {@link SuggestionBudget}): enough to
 * guess every misspelt field, and the first 20 unknown dependencies of a 500-task pipeline.
 */
export const MAX_SUGGESTION_COMPARISONS = 10_000;

/** Lists with a limit on their length, checked before anything else. */
const LIST_LIMITS = [
  ['tasks', LIMITS.maxTasks, 'split the pipeline into several'],
  ['triggers', LIMITS.maxTriggers, 'remove some'],
  ['notifiers', LIMITS.maxNotifiers, 'remove some'],
] as const;

/** A list of a pipeline document that has a length limit. */
export type LimitedList = (typeof LIST_LIMITS)[number][0];

/** Cycles through more tasks than this are shown by their first and last few tasks. */
const MAX_CYCLE_SHOWN = 8;

// Top-level fields in the order issues about them are listed; anything else (unknown fields) after.
const FIELD_ORDER = ['id', 'name', 'description', 'parallelism', 'tasks', 'triggers', 'notifiers'];

/**
 * Validates a pipeline document (snake_case, as written in YAML/JSON or built by the SDK) and turns
 * it into a {@link PipelineConfig}. Every problem is reported, each with its path and cause, in
 * document order (at most {@link PIPELINE_LIMITS.maxReportedIssues}, then a line saying how many
 * more there are). Only a list longer than its limit (tasks, triggers, notifiers) is reported alone,
 * found by counting before any entry is looked at. The work is linear in the document's size: guesses
 * (did you mean …) are made for reported problems only, within {@link MAX_SUGGESTION_COMPARISONS}.
 *
 * Beyond the fields of docs/design.md §2: no string, nor key, may hold a NUL character or a lone UTF-16
 * surrogate (Postgres and environment variables take neither); top-level fields starting with `x-`
 * are ignored, so YAML anchors can be kept there (`x-defaults: &defaults …`) as in Docker Compose;
 * `script:` becomes `entrypoint: [/bin/sh, -c]` plus `command: [script]`; `name` defaults to the id
 * and `parallelism` to 0 (unlimited).
 */
export function validatePipelineConfig(doc: unknown): ParseResult {
  if (!isMapping(doc)) {
    const message =
      doc === null || doc === undefined
        ? 'the config is empty; a pipeline needs at least an id and tasks'
        : `expected a mapping of pipeline fields (id, name, tasks …), got ${describeValue(doc)}`;
    return { ok: false, errors: [{ path: ROOT_PATH, message }] };
  }
  // Counted first, so an oversized document costs no work per entry.
  const oversized = oversizedLists((field) => (Array.isArray(doc[field]) ? doc[field].length : undefined));
  if (oversized.length > 0) return { ok: false, errors: oversized };
  const sizeProblem = expandedSizeProblem(doc, LIMITS.maxExpandedBytes);
  if (sizeProblem !== undefined) return { ok: false, errors: [{ path: ROOT_PATH, message: sizeProblem }] };

  const document = Object.fromEntries(Object.entries(doc).filter(([key]) => !key.startsWith('x-')));
  const findings = textFindings(document);
  const parsed = pipelineDocumentSchema.safeParse(document);
  if (!parsed.success) findings.push(...parsed.error.issues.map(fromZodIssue));
  findings.push(...crossFieldFindings(document));
  if (findings.length > 0) return { ok: false, errors: report(findings) };
  return { ok: true, config: toPipelineConfig(parsed.data!) };
}

/**
 * The lists longer than their limit (tasks, triggers, notifiers), one issue each. A document with
 * any is refused with these alone: checking its entries could cost far more than a valid config.
 *
 * @param lengthOf the length of a top-level field, `undefined` when it is not a list.
 */
export function oversizedLists(lengthOf: (field: LimitedList) => number | undefined): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  for (const [field, max, advice] of LIST_LIMITS) {
    const length = lengthOf(field);
    if (length !== undefined && length > max) {
      issues.push({ path: field, message: `too many ${field} (${length}): at most ${max} are allowed; ${advice}` });
    }
  }
  return issues;
}

function fromZodIssue(issue: z.core.$ZodIssue): Finding {
  const params = (issue as { params?: Partial<UnknownFieldParams> }).params;
  if (params?.unknownField === true && issue.path.length > 0) {
    const field = String(issue.path[issue.path.length - 1]);
    const known = params.knownFields ?? [];
    const message = (suggestions: SuggestionBudget) => {
      const hint = didYouMean(field, known, suggestions);
      return hint !== '' ? `unknown field${hint}` : `unknown field; known fields are ${known.join(', ')}`;
    };
    return { path: issue.path, message };
  }
  return { path: issue.path, message: issue.message };
}

const NUL = /\0/;
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** Why a text cannot be stored or passed on (to Postgres, to a container), if it cannot. */
function textProblem(text: string): string | undefined {
  if (NUL.test(text)) return 'contains a NUL character';
  const surrogate = LONE_SURROGATE.exec(text)?.[0];
  if (surrogate !== undefined) {
    const code = surrogate.charCodeAt(0).toString(16);
    return `contains a lone surrogate (\\u${code}), which is not Unicode text`;
  }
  return undefined;
}

/**
 * Every string of the document, keys included, that holds a NUL character or a lone UTF-16 surrogate
 * (YAML "\0", JSON "\u0000" or "\ud800"). An object reached through several YAML aliases is checked,
 * and reported, once. Walks without recursion, so nesting cannot overflow the stack.
 */
function textFindings(document: Record<string, unknown>): Finding[] {
  interface Place {
    value: unknown;
    key: PropertyKey | undefined;
    parent: Place | undefined;
  }
  const pathOf = (place: Place): PropertyKey[] => {
    const path: PropertyKey[] = [];
    for (let at: Place | undefined = place; at?.key !== undefined; at = at.parent) path.unshift(at.key);
    return path;
  };
  const findings: Finding[] = [];
  const seen = new Set<object>();
  const stack: Place[] = [{ value: document, key: undefined, parent: undefined }];
  while (stack.length > 0) {
    const place = stack.pop()!;
    const { value } = place;
    if (typeof value === 'string') {
      const problem = textProblem(value);
      if (problem !== undefined) findings.push({ path: pathOf(place), message: problem });
      continue;
    }
    if (typeof value !== 'object' || value === null || seen.has(value)) continue;
    seen.add(value);
    const entries: [PropertyKey, unknown][] = Array.isArray(value) ? value.map((item, index) => [index, item]) : Object.entries(value);
    // Pushed in reverse, so findings come out in document order.
    for (let i = entries.length - 1; i >= 0; i--) {
      const [key, item] = entries[i]!;
      const child: Place = { value: item, key, parent: place };
      const keyProblem = typeof key === 'string' ? textProblem(key) : undefined;
      if (keyProblem !== undefined) {
        findings.push({ path: pathOf(child), message: `this key ${keyProblem}` });
      }
      stack.push(child);
    }
  }
  return findings;
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

  let ids: string[] | undefined;
  const taskIds = () => (ids ??= [...firstIndexOf.keys()]);

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
        const message = (suggestions: SuggestionBudget) =>
          `unknown task ${quoteForMessage(parent)}${didYouMean(parent, taskIds(), suggestions)}`;
        findings.push({ path, message });
      } else parents.push(parent);
    }
    // A duplicated id already has its own error; its first definition stands for it in the graph.
    if (id !== undefined && firstIndexOf.get(id) === index) parentsOf.set(id, parents);
  });
  for (const cycle of findDependencyCycles(taskIds(), (id) => parentsOf.get(id) ?? [])) {
    findings.push({ path: ['tasks'], message: describeCycle(cycle) });
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

/**
 * `cycle a -> b -> a`; a cycle through more than a few tasks by its first and last tasks, so its
 * message stays short: `cycle of 500 tasks: a -> b -> c -> d -> … 494 more … -> y -> z -> a`.
 */
function describeCycle(cycle: readonly string[]): string {
  // Ids that are not valid (reported on their own) may be anything: quoted and cut short.
  const shown = (id: string) => (isValidId(TASK_ID, id) ? id : quoteForMessage(id));
  const tasks = cycle.length - 1;
  if (tasks <= MAX_CYCLE_SHOWN) return `cycle ${cycle.map(shown).join(' -> ')}`;
  const head = cycle.slice(0, MAX_CYCLE_SHOWN - 4).map(shown);
  const tail = cycle.slice(-3).map(shown);
  return `cycle of ${tasks} tasks: ${head.join(' -> ')} -> … ${tasks - head.length - 2} more … -> ${tail.join(' -> ')}`;
}

/**
 * Orders findings by place in the document (stable within a place), caps them, renders paths and,
 * for the findings reported only, messages with guesses.
 */
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
    .sort((a, b) => a.rank[0] - b.rank[0] || a.rank[1] - b.rank[1] || a.position - b.position);
  const max = LIMITS.maxReportedIssues;
  const suggestions = new SuggestionBudget(MAX_SUGGESTION_COMPARISONS);
  const issues = ordered.slice(0, max).map(({ finding: { path, message } }) => ({
    path: formatConfigPath(path),
    message: typeof message === 'string' ? message : message(suggestions),
  }));
  if (ordered.length <= max) return issues;
  return [...issues, { path: ROOT_PATH, message: `${ordered.length - max} more errors not shown; fix the ones above first` }];
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
