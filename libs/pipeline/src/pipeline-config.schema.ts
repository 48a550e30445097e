// The per-field rules of a pipeline document, as zod schemas whose every message is written for the
// person who wrote the config. Rules that span fields (unknown dependencies, cycles, duplicate ids)
// live in pipeline-config.validator.ts, because zod skips object-level refinements as soon as any
// field is wrong, and every error must be reported at once.
import { z } from 'zod';
import { quoteForMessage } from './config-issue.js';
import { formatDuration, parseDuration } from './duration.js';
import { scanInterpolations } from './interpolation.js';
import { formatMemorySize, parseMemorySize } from './memory-size.js';
import { EXTENSION_NAME, type IdRule, isValidId, LABEL, PIPELINE_ID, TASK_ID, VARIABLE_NAME } from './ids.js';
import { DEPENDS_ON_VALUES, PIPELINE_LIMITS as LIMITS } from './pipeline-config.js';

/** Carried in `params` of the issue raised for a field the schema does not know. */
export interface UnknownFieldParams {
  unknownField: true;
  knownFields: string[];
}

/** How a value reads in a message: `"text"`, `42`, `true`, `null`, `a list`, `a mapping`. */
export function describeValue(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'string') return quoteForMessage(value);
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (typeof value === 'object') return 'a mapping';
  return `a ${typeof value}`;
}

export function isMapping(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Whether `null` (`field:` with no value) means the field is missing, or is a wrong value. */
type NullMeans = 'missing' | 'value';

type Issues = z.core.$ZodRawIssue[];
const fail = (issues: Issues, input: unknown, message: string): void => {
  issues.push({ code: 'custom', message, input });
};

/** Message for a value of the wrong type; a missing or empty (`null`) field is just "required". */
const expected =
  (what: string, nullMeans: NullMeans = 'missing') =>
  (issue: { input?: unknown }): string =>
    issue.input === undefined || (issue.input === null && nullMeans === 'missing')
      ? 'required'
      : `expected ${what}, got ${describeValue(issue.input)}`;

// Documents from code may hold numbers or booleans where strings belong; YAML documents never
// do here, because the parser keeps such scalars as the text the user wrote.
const scalarToText = (value: unknown): unknown =>
  typeof value === 'number' || typeof value === 'boolean' ? String(value) : value;

function text(options: { max?: number; nonEmpty?: boolean; nullMeans?: NullMeans } = {}) {
  const { max, nonEmpty = false, nullMeans } = options;
  const wrongType = expected('a string', nullMeans);
  let schema = z.string({
    error: (issue) =>
      issue.input === null && nullMeans === 'value' ? `${wrongType(issue)}; write "" for an empty value` : wrongType(issue),
  });
  if (nonEmpty) schema = schema.min(1, { error: 'must not be empty' });
  if (max !== undefined) schema = schema.max(max, { error: `must be at most ${max} characters` });
  return z.preprocess(scalarToText, schema);
}

/** A string following `rule` (see ids.ts); `what` names it in the message, e.g. `trigger name`. */
function identifier(rule: IdRule, what = rule.name) {
  return text().refine((value) => isValidId(rule, value), {
    error: (issue) => `invalid ${what} ${quoteForMessage(String(issue.input))}: use ${rule.howTo}`,
  });
}

/** A mapping with known fields; any other field is reported (with a suggestion) at its own path. */
function fields<Shape extends z.core.$ZodLooseShape>(shape: Shape, what: string, nullMeans: NullMeans = 'missing') {
  const params: UnknownFieldParams = { unknownField: true, knownFields: Object.keys(shape) };
  const unknownField = z.unknown().superRefine((_, ctx) => {
    ctx.addIssue({ code: 'custom', message: 'unknown field', params: { ...params } });
  });
  const object = z.object(shape, { error: expected(what, nullMeans) }).catchall(unknownField);
  // zod passes every unknown key to the catchall except `__proto__`, which it drops silently.
  return z.preprocess((input, ctx) => {
    if (isMapping(input) && Object.hasOwn(input, '__proto__')) {
      ctx.issues.push({ code: 'custom', message: 'unknown field', path: ['__proto__'], input, params: { ...params } });
    }
    return input;
  }, object);
}

/** A mapping of user-chosen keys: checks each key and value, keeps `__proto__` & co. as plain keys. */
function mapOf<T>(what: string, value: z.ZodType<T>, checkKey?: (key: string) => string | undefined) {
  return z.unknown().transform((input, ctx): Record<string, T> => {
    if (!isMapping(input)) {
      fail(ctx.issues, input, `expected ${what}, got ${describeValue(input)}`);
      return z.NEVER;
    }
    const entries: [string, T][] = [];
    for (const [key, raw] of Object.entries(input)) {
      const keyProblem = checkKey?.(key);
      if (keyProblem !== undefined) ctx.issues.push({ code: 'custom', message: keyProblem, path: [key], input: key });
      const parsed = value.safeParse(raw);
      if (parsed.success) entries.push([key, parsed.data]);
      else {
        for (const issue of parsed.error.issues) {
          ctx.issues.push({ code: 'custom', message: issue.message, path: [key, ...issue.path], input: raw });
        }
      }
    }
    return Object.fromEntries(entries);
  });
}

const checkVariableName = (kind: string) => (key: string) =>
  isValidId(VARIABLE_NAME, key) ? undefined : `invalid ${kind} name ${quoteForMessage(key)}: use ${VARIABLE_NAME.howTo}`;

/** A string that may hold `pipeline_secret{{KEY}}`-style interpolations, checked for syntax. */
function interpolated(options: { nonEmpty?: boolean; nullMeans?: NullMeans }) {
  return text(options).superRefine((value, ctx) => {
    for (const message of scanInterpolations(value).errors) ctx.addIssue({ code: 'custom', message });
  });
}

function integer(what: string, min: number, max: number, tooBig: string) {
  const message = expected(what);
  return z
    .number({ error: message })
    .int({ error: message })
    .min(min, { error: message })
    .max(max, { error: tooBig });
}

function duration(options: { max: number; positive: boolean; field: string }) {
  return text().transform((value, ctx) => {
    const ms = parseDuration(value);
    if (ms === undefined) {
      fail(
        ctx.issues,
        value,
        `invalid duration ${quoteForMessage(value)}: use a number with a unit (h, m, s, ms), e.g. 500ms, 2s, 1m30s`,
      );
      return z.NEVER;
    }
    if (options.positive && ms === 0) {
      fail(ctx.issues, value, `must be longer than 0; leave ${options.field} out for no limit`);
    }
    if (ms > options.max) fail(ctx.issues, value, `must be at most ${formatDuration(options.max)}`);
    return ms;
  });
}

const cpu = z.unknown().transform((input, ctx) => {
  let cpus: number | undefined;
  if (typeof input === 'number') cpus = input;
  else if (typeof input === 'string' && /^\d+m$/.test(input)) cpus = Number(input.slice(0, -1)) / 1000;
  else if (typeof input === 'string' && /^\d+(\.\d+)?$/.test(input)) cpus = Number(input);
  if (cpus === undefined || !Number.isFinite(cpus)) {
    fail(ctx.issues, input, `expected a number of CPUs such as 0.5 or "500m", got ${describeValue(input)}`);
    return z.NEVER;
  }
  if (cpus <= 0) fail(ctx.issues, input, 'must be more than 0');
  if (cpus > LIMITS.maxCpu) fail(ctx.issues, input, `must be at most ${LIMITS.maxCpu}`);
  return cpus;
});

const memory = z.unknown().transform((input, ctx) => {
  const bytes = typeof input === 'string' || typeof input === 'number' ? parseMemorySize(input) : undefined;
  if (bytes === undefined) {
    fail(
      ctx.issues,
      input,
      `invalid memory size ${describeValue(input)}: use bytes, or a number with Ki, Mi, Gi, Ti (binary) or K, M, G, T (decimal), e.g. 256Mi or 1Gi`,
    );
    return z.NEVER;
  }
  if (bytes < LIMITS.minMemoryBytes) {
    const minimum = formatMemorySize(LIMITS.minMemoryBytes);
    fail(ctx.issues, input, `must be at least ${minimum} (Docker refuses smaller memory limits)`);
  }
  return bytes;
});

const argumentList = (field: string) =>
  z
    .array(text({ nullMeans: 'value' }), {
      error: (issue) =>
        issue.input === undefined
          ? 'required'
          : `expected a list of strings such as [sh, -c, "echo hi"], got ${describeValue(issue.input)}` +
            (typeof issue.input === 'string' ? '; to run a shell script, use script: instead' : ''),
    })
    .min(1, { error: `must not be empty; leave ${field} out to use the image's default` });

const taskSchema = fields(
  {
    id: identifier(TASK_ID),
    description: text({ max: LIMITS.maxDescriptionLength }).nullish(),
    image: text({ nonEmpty: true, max: LIMITS.maxImageLength }).refine((image) => !/\s/.test(image), {
      error: (issue) => `invalid image reference ${quoteForMessage(String(issue.input))}: it must not contain spaces`,
    }),
    entrypoint: argumentList('entrypoint').nullish(),
    command: argumentList('command').nullish(),
    script: text({ nonEmpty: true }).nullish(),
    variables: mapOf(
      'a mapping of variable names to strings',
      interpolated({ nullMeans: 'value' }),
      checkVariableName('variable'),
    ).nullish(),
    depends_on: mapOf(
      'a mapping of task ids to success, failure or any, e.g. { build: success }',
      z.enum(DEPENDS_ON_VALUES as [string, ...string[]], { error: `must be one of ${DEPENDS_ON_VALUES.join(', ')}` }),
    ).nullish(),
    retries: fields(
      {
        attempts: integer(
          `an integer from 1 to ${LIMITS.maxRetryAttempts} (total tries, the first included)`,
          1,
          LIMITS.maxRetryAttempts,
          `must be at most ${LIMITS.maxRetryAttempts}`,
        ),
        backoff: duration({ max: LIMITS.maxRetryBackoffMs, positive: false, field: 'backoff' }).nullish(),
      },
      'a mapping such as { attempts: 3, backoff: 2s }',
    ).nullish(),
    timeout: duration({ max: LIMITS.maxTimeoutMs, positive: true, field: 'timeout' }).nullish(),
    registry_auth: fields(
      { user: interpolated({ nonEmpty: true }), pass: interpolated({ nonEmpty: true }) },
      'a mapping such as { user: me, pass: "pipeline_secret{{REGISTRY_PASS}}" }',
    ).nullish(),
    inject_api_token: z.boolean({ error: expected('true or false') }).nullish(),
    resources: fields(
      { cpu: cpu.nullish(), memory: memory.nullish() },
      'a mapping such as { cpu: 0.5, memory: 256Mi }',
    ).nullish(),
  },
  'a mapping of task fields (id, image …)',
  'value',
);

const settings = mapOf('a mapping of setting names to strings', text({ nullMeans: 'value' }), checkVariableName('setting'));

const triggerSchema = fields(
  {
    trigger: identifier(EXTENSION_NAME, 'trigger name'),
    label: identifier(LABEL),
    settings: settings.nullish(),
  },
  'a mapping such as { trigger: cron, label: nightly }',
  'value',
);

const notifierSchema = fields(
  {
    notifier: identifier(EXTENSION_NAME, 'notifier name'),
    label: identifier(LABEL),
    settings: settings.nullish(),
  },
  'a mapping such as { notifier: log, label: console }',
  'value',
);

/** The whole pipeline document (snake_case, as written), with field-level rules. */
export const pipelineDocumentSchema = fields(
  {
    id: identifier(PIPELINE_ID),
    name: text({ max: LIMITS.maxNameLength }).nullish(),
    description: text({ max: LIMITS.maxDescriptionLength }).nullish(),
    parallelism: integer(
      'a non-negative integer',
      0,
      LIMITS.maxParallelism,
      `must be at most ${LIMITS.maxParallelism}; use 0 for no limit`,
    ).nullish(),
    tasks: z
      .array(taskSchema, { error: expected('a list of tasks') })
      .min(1, { error: 'must contain at least one task' }),
    triggers: z.array(triggerSchema, { error: expected('a list of triggers') }).nullish(),
    notifiers: z.array(notifierSchema, { error: expected('a list of notifiers') }).nullish(),
  },
  'a mapping of pipeline fields (id, tasks …)',
);

/** A document that passed {@link pipelineDocumentSchema} (durations and sizes already converted). */
export type CheckedPipelineDocument = z.output<typeof pipelineDocumentSchema>;
export type CheckedTaskDocument = CheckedPipelineDocument['tasks'][number];
