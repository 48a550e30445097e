import { invalidArgument } from '@gofer/errors';
import { idProblem, idRuleHint, NAMESPACE_ID, PIPELINE_ID, TASK_ID, type IdRule } from '@gofer/pipeline';

/** Run ids are Postgres `int`s. */
const MAX_RUN_ID = 2 ** 31 - 1;
/** The longest page a list call returns. */
export const MAX_PAGE = 1000;

/** Collects every problem with a request, so a client learns about all of them at once. */
export class RequestCheck {
  private readonly errors: string[] = [];
  private readonly brokenRules = new Set<IdRule>();

  /** `namespace_id` defaults to "default" when empty, as the CLI does. */
  namespace(value: string | undefined): string {
    const namespace = value || 'default';
    this.checkId(NAMESPACE_ID, 'namespace_id', namespace);
    return namespace;
  }

  /** A required id following `rule` (libs/pipeline/src/ids.ts), e.g. `PIPELINE_ID` for `pipeline_id`. */
  id(rule: IdRule, field: string, value: string | undefined): string {
    if (!value) this.errors.push(`${field}: required`);
    else this.checkId(rule, field, value);
    return value ?? '';
  }

  /** Lists a malformed id; how to write one is said once, after every problem (see {@link done}). */
  private checkId(rule: IdRule, field: string, value: string): void {
    const problem = idProblem(rule, field, value, { explain: false });
    if (problem === undefined) return;
    this.errors.push(problem);
    this.brokenRules.add(rule);
  }

  runId(field: string, value: number | undefined): number {
    if (!value) this.errors.push(`${field}: required (runs are numbered from 1)`);
    // int64 arrives as a JS number: past 2^53 it is already rounded, so it is not echoed back.
    else if (!Number.isSafeInteger(value)) this.errors.push(`${field}: out of range (run ids are 1 to ${MAX_RUN_ID})`);
    else if (value < 1 || value > MAX_RUN_ID) this.errors.push(`${field}: ${value} is not a valid run id (run ids are 1 to ${MAX_RUN_ID})`);
    return value ?? 0;
  }

  /**
   * `limit` and `offset` of a list call: limit 0 means the server's default (`fallback`), and no page
   * is longer than `max`; negative values are refused rather than guessed at.
   */
  page(request: { limit?: number | null; offset?: number | null }, fallback: number, max = MAX_PAGE): { limit: number; offset: number } {
    const limit = request.limit ?? 0;
    const offset = request.offset ?? 0;
    if (limit < 0) this.errors.push(`limit: ${limit} is negative (0 means the server's default, ${fallback}; at most ${max})`);
    if (offset < 0) this.errors.push(`offset: ${offset} is negative (it counts the items to skip, from 0)`);
    return { limit: Math.min(limit > 0 ? limit : fallback, max), offset: Math.max(offset, 0) };
  }

  /** A repeated enum field: each value one of `allowed`'s wire names, given back as what it stands for (repeats dropped). */
  enumList<T>(field: string, values: readonly unknown[] | null | undefined, allowed: Readonly<Record<string, T>>): T[] {
    const picked: T[] = [];
    for (const value of values ?? []) {
      if (typeof value !== 'string' || !Object.hasOwn(allowed, value)) {
        this.errors.push(`${field}: ${JSON.stringify(value)} is not one of ${Object.keys(allowed).join(', ')}`);
      } else if (!picked.includes(allowed[value]!)) {
        picked.push(allowed[value]!);
      }
    }
    return picked;
  }

  /** An optional free-text field of at most `max` characters. */
  text(field: string, value: string | null | undefined, max: number): string {
    const text = value ?? '';
    if (text.length > max) this.errors.push(`${field}: ${text.length} characters, at most ${max}`);
    return text;
  }

  /** Throws INVALID_ARGUMENT listing every problem found, then how to write each id rule broken. */
  done(): void {
    if (this.errors.length > 0) throw invalidArgument([...this.errors, ...[...this.brokenRules].map(idRuleHint)].join('\n'));
  }
}

/** Names one pipeline: `{ namespaceId, <field> }` checked, all problems reported together. */
export function pipelineRef(request: { namespaceId: string }, id: string | undefined, field = 'pipeline_id') {
  const check = new RequestCheck();
  const ref = { namespaceId: check.namespace(request.namespaceId), pipelineId: check.id(PIPELINE_ID, field, id) };
  check.done();
  return ref;
}

/** Names one run. */
export function runRef(request: { namespaceId: string; pipelineId: string; runId: number }) {
  const check = new RequestCheck();
  const ref = {
    namespaceId: check.namespace(request.namespaceId),
    pipelineId: check.id(PIPELINE_ID, 'pipeline_id', request.pipelineId),
    runId: check.runId('run_id', request.runId),
  };
  check.done();
  return ref;
}

/** Names one task run. */
export function taskRef(request: { namespaceId: string; pipelineId: string; runId: number; taskId: string }) {
  const check = new RequestCheck();
  const ref = {
    namespaceId: check.namespace(request.namespaceId),
    pipelineId: check.id(PIPELINE_ID, 'pipeline_id', request.pipelineId),
    runId: check.runId('run_id', request.runId),
    taskId: check.id(TASK_ID, 'task_id', request.taskId),
  };
  check.done();
  return ref;
}

/** A list call's page (see {@link RequestCheck.page}), every problem reported together. */
export function page(request: { limit?: number | null; offset?: number | null }, fallback: number): { limit: number; offset: number } {
  const check = new RequestCheck();
  const result = check.page(request, fallback);
  check.done();
  return result;
}
