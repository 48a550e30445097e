import { invalidArgument } from '@gofer/engine';

const ID = /^[a-z0-9][a-z0-9_-]{0,63}$/;
/** Run ids are Postgres `int`s. */
const MAX_RUN_ID = 2 ** 31 - 1;
/** The longest page a list call returns. */
export const MAX_PAGE = 1000;

/** Collects every problem with a request, so a client learns about all of them at once. */
export class RequestCheck {
  private readonly errors: string[] = [];

  /** `namespace_id` defaults to "default" when empty, as the CLI does. */
  namespace(value: string | undefined): string {
    const namespace = value || 'default';
    if (!ID.test(namespace)) this.errors.push(`namespace_id: "${clip(namespace)}" is not a valid id`);
    return namespace;
  }

  id(field: string, value: string | undefined): string {
    if (!value) this.errors.push(`${field}: required`);
    else if (!ID.test(value)) this.errors.push(`${field}: "${clip(value)}" is not a valid id (lower-case letters, digits, - and _)`);
    return value ?? '';
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

  /** Throws INVALID_ARGUMENT listing every problem found. */
  done(): void {
    if (this.errors.length > 0) throw invalidArgument(this.errors.join('\n'));
  }
}

function clip(value: string): string {
  return value.length > 70 ? `${value.slice(0, 67)}...` : value;
}

/** Names one pipeline: `{ namespaceId, <field> }` checked, all problems reported together. */
export function pipelineRef(request: { namespaceId: string }, id: string | undefined, field = 'pipeline_id') {
  const check = new RequestCheck();
  const ref = { namespaceId: check.namespace(request.namespaceId), pipelineId: check.id(field, id) };
  check.done();
  return ref;
}

/** Names one run. */
export function runRef(request: { namespaceId: string; pipelineId: string; runId: number }) {
  const check = new RequestCheck();
  const ref = {
    namespaceId: check.namespace(request.namespaceId),
    pipelineId: check.id('pipeline_id', request.pipelineId),
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
    pipelineId: check.id('pipeline_id', request.pipelineId),
    runId: check.runId('run_id', request.runId),
    taskId: check.id('task_id', request.taskId),
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
