import { invalidArgument } from '@gofer/errors';

// Requests are flat messages whose deepest fields are maps; anything deeper is not looked into.
const MAX_DEPTH = 8;
// Enough to name the fields at fault; the count of the rest is given.
const MAX_REPORTED = 20;

const PLAIN_KEY = /^[A-Za-z0-9_.-]+$/;

/**
 * The string fields of a decoded request that hold a NUL character, one line each, in request order:
 * `variables.A: contains a NUL character`, `variables: key "A\u0000B" contains a NUL character`.
 * Protobuf strings may carry NUL, but no store or container takes it (Postgres text, environment
 * variables, file names), so no request may. Field names are the proto's (`namespace_id`); map keys
 * are shown as sent. Bytes fields are skipped.
 */
export function nulCharacterProblems(request: object): string[] {
  const problems: string[] = [];
  let more = 0;
  const report = (problem: string) => (problems.length < MAX_REPORTED ? problems.push(problem) : more++);
  const walk = (value: unknown, path: string, depth: number): void => {
    if (typeof value === 'string') {
      if (value.includes('\0')) report(`${path}: contains a NUL character`);
      return;
    }
    if (typeof value !== 'object' || value === null || ArrayBuffer.isView(value) || depth > MAX_DEPTH) return;
    if (Array.isArray(value)) {
      value.forEach((item, index) => walk(item, `${path}[${index}]`, depth + 1));
      return;
    }
    for (const [key, item] of Object.entries(value)) {
      const field = depth === 0 ? key.replace(/[A-Z]/g, (letter) => `_${letter.toLowerCase()}`) : key;
      if (field.includes('\0')) report(`${path || '(request)'}: key ${JSON.stringify(field)} contains a NUL character`);
      const name = PLAIN_KEY.test(field) ? field : JSON.stringify(field);
      walk(item, path === '' ? name : PLAIN_KEY.test(field) ? `${path}.${name}` : `${path}[${name}]`, depth + 1);
    }
  };
  walk(request, '', 0);
  if (more > 0) problems.push(`… and ${more} more fields with a NUL character`);
  return problems;
}

/** Refuses a request with a NUL character in any string (see {@link nulCharacterProblems}) as INVALID_ARGUMENT. */
export function assertNoNulCharacters(request: object): void {
  const problems = nulCharacterProblems(request);
  if (problems.length > 0) throw invalidArgument(problems.join('\n'));
}
