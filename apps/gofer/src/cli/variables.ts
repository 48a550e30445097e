import { InvalidArgumentError } from 'commander';

const KEY = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * Commander argument parser for repeated `-v KEY=VALUE`: adds one variable to those parsed so far.
 * The value may contain `=` and may be empty; a later `-v` for the same key wins.
 * @throws InvalidArgumentError (a usage error, exit 2) when there is no `=` or the key is not a valid
 *   variable name.
 */
export function parseVariable(arg: string, previous: Readonly<Record<string, string>> = {}): Record<string, string> {
  const eq = arg.indexOf('=');
  if (eq < 0) throw new InvalidArgumentError(`expected KEY=VALUE, e.g. -v WHO=world`);
  const key = arg.slice(0, eq);
  if (!KEY.test(key)) {
    throw new InvalidArgumentError(`variable name "${key}" must be letters, digits and _, not starting with a digit`);
  }
  return { ...previous, [key]: arg.slice(eq + 1) };
}

/** Commander argument parser for a run id: a positive integer. */
export function parseRunId(arg: string): number {
  const id = Number(arg);
  if (!/^\d+$/.test(arg) || !Number.isSafeInteger(id) || id < 1) {
    throw new InvalidArgumentError(`a run id is a positive integer (1, 2, 3 …)`);
  }
  return id;
}

/** Commander argument parser for `--attempt`: a positive integer. */
export function parseAttempt(arg: string): number {
  const n = Number(arg);
  if (!/^\d+$/.test(arg) || !Number.isSafeInteger(n) || n < 1) throw new InvalidArgumentError('an attempt is a positive integer (1 is the first)');
  return n;
}

/** Commander argument parser for `--limit`/`--offset`: a non-negative integer. */
export function parseCount(arg: string): number {
  const n = Number(arg);
  if (!/^\d+$/.test(arg) || !Number.isSafeInteger(n)) throw new InvalidArgumentError(`expected a whole number`);
  return n;
}
