import { isValidId, VARIABLE_NAME } from '@gofer/pipeline';
import { InvalidArgumentError } from 'commander';

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
  if (!isValidId(VARIABLE_NAME, key)) {
    throw new InvalidArgumentError(`variable name "${key}" must be letters, digits and _, not starting with a digit`);
  }
  return { ...previous, [key]: arg.slice(eq + 1) };
}

/**
 * Commander argument parser for repeated `--setting KEY=VALUE` (trigger and notifier installs): adds one
 * setting to those parsed so far. The value may contain `=` and may be empty; a later setting with the
 * same key wins. `example` is shown when the argument has no `=`.
 */
export function settingParser(example: string): (arg: string, previous?: Readonly<Record<string, string>>) => Record<string, string> {
  return (arg, previous = {}) => {
    const eq = arg.indexOf('=');
    if (eq < 0) throw new InvalidArgumentError(`expected KEY=VALUE, e.g. --setting ${example}`);
    const key = arg.slice(0, eq);
    if (!isValidId(VARIABLE_NAME, key)) throw new InvalidArgumentError(`setting name "${key}" must be ${VARIABLE_NAME.howTo}`);
    return { ...previous, [key]: arg.slice(eq + 1) };
  };
}

/** A commander argument parser for a positive integer, refusing anything else with `message`. */
function positiveInteger(message: string): (arg: string) => number {
  return (arg) => {
    const n = Number(arg);
    if (!/^\d+$/.test(arg) || !Number.isSafeInteger(n) || n < 1) throw new InvalidArgumentError(message);
    return n;
  };
}

/** Commander argument parser for a run id. */
export const parseRunId = positiveInteger('a run id is a positive integer (1, 2, 3 …)');
/** Commander argument parser for `--attempt`. */
export const parseAttempt = positiveInteger('an attempt is a positive integer (1 is the first)');
/** Commander argument parser for a config version. */
export const parseConfigVersion = positiveInteger('a config version is a positive integer (1 is the first)');

/** Commander argument parser for `--limit`/`--offset`: a non-negative integer. */
export function parseCount(arg: string): number {
  const n = Number(arg);
  if (!/^\d+$/.test(arg) || !Number.isSafeInteger(n)) throw new InvalidArgumentError(`expected a whole number`);
  return n;
}
