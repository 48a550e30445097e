// The one definition of each identifier rule: namespace, pipeline and task ids, trigger and notifier
// names, labels, variable names and token ids. Configs, API requests, tokens and the CLI all check
// against these, so an id one of them accepts is never refused (or silently never found) by another.
import { quoteForMessage } from './config-issue.js';

/** One identifier rule: its pattern and how to write a valid value. */
export interface IdRule {
  /** What the identifier is, in a message: `namespace id`. */
  readonly name: string;
  readonly pattern: RegExp;
  /** How to write one, completing "use …": `3 to 32 characters a-z, 0-9, _ or -, starting with a letter or digit`. */
  readonly howTo: string;
}

/** Ids made of `a-z 0-9 _ -` starting with a letter or digit: safe in container names, labels, keys and URLs. */
function slug(name: string, pattern: RegExp, min: number, max: number): IdRule {
  return { name, pattern, howTo: `${min} to ${max} characters a-z, 0-9, _ or -, starting with a letter or digit` };
}

/** Namespace ids: 3 to 32 characters (docs/design.md §2), in requests, in tokens' patterns and at creation alike. */
export const NAMESPACE_ID = slug('namespace id', /^[a-z0-9][a-z0-9_-]{2,31}$/, 3, 32);

/** Pipeline ids: 3 to 32 characters (docs/design.md §2). */
export const PIPELINE_ID = slug('pipeline id', /^[a-z0-9][a-z0-9_-]{2,31}$/, 3, 32);

/**
 * Task ids: 1 to 64 characters, shorter than pipelines allow (`db`, `qa` are natural task names); the
 * same alphabet keeps them safe in container names, labels and queue job ids.
 */
export const TASK_ID = slug('task id', /^[a-z0-9][a-z0-9_-]{0,63}$/, 1, 64);

/** Names of installed triggers and notifiers (`cron`, `github`, `log` …): 1 to 32 characters. */
export const EXTENSION_NAME = slug('extension name', /^[a-z0-9][a-z0-9_-]{0,31}$/, 1, 32);

/** Labels of a pipeline's trigger and notifier subscriptions: 1 to 32 characters. */
export const LABEL = slug('label', /^[a-z0-9][a-z0-9_-]{0,31}$/, 1, 32);

/** Variable and setting names: POSIX environment variable names. */
export const VARIABLE_NAME: IdRule = {
  name: 'variable name',
  pattern: /^[A-Za-z_][A-Za-z0-9_]*$/,
  howTo: 'letters, digits and _, not starting with a digit',
};

/** API token ids, as issued: `tok_` and 16 hex digits. */
export const TOKEN_ID: IdRule = { name: 'token id', pattern: /^tok_[0-9a-f]{16}$/, howTo: 'tok_ followed by 16 hex digits' };

/** Whether `value` follows `rule`. */
export function isValidId(rule: IdRule, value: string): boolean {
  return rule.pattern.test(value);
}

/** How {@link idProblem} words a problem. */
export interface IdProblemOptions {
  /**
   * What the message calls the value, when the field name does not say which id it holds (a
   * namespace's own `id`: pass `NAMESPACE_ID.name`).
   * @default 'id'
   */
  what?: string;
  /**
   * Whether to say, in parentheses, how to write a valid one. A caller listing several problems may
   * leave it out and say it once after them ({@link idRuleHint}).
   * @default true
   */
  explain?: boolean;
}

/**
 * What is wrong with a field holding an id, or undefined when it follows the rule:
 * `pipeline_id: "Bad P" is not a valid id (3 to 32 characters a-z, 0-9, _ or -, starting with a letter or digit)`.
 * The value is quoted and shortened.
 */
export function idProblem(rule: IdRule, field: string, value: string, options: IdProblemOptions = {}): string | undefined {
  if (isValidId(rule, value)) return undefined;
  const { what = 'id', explain = true } = options;
  return `${field}: ${quoteForMessage(value, 64)} is not a valid ${what}${explain ? ` (${rule.howTo})` : ''}`;
}

/** How to write a valid id, as a sentence: `namespace ids are 3 to 32 characters a-z, 0-9, _ or -, starting with a letter or digit`. */
export function idRuleHint(rule: IdRule): string {
  return `${rule.name}s are ${rule.howTo}`;
}
