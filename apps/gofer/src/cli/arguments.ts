// Commander argument parsers of the token, namespace, object and secret commands. Each throws
// InvalidArgumentError, which commander turns into a one-line usage error (exit 2) naming the option.
import { INTERPOLATION_KEY_PATTERN, isValidId, NAMESPACE_ID } from '@gofer/pipeline';
import { InvalidArgumentError } from 'commander';

const UNIT_SECONDS: Readonly<Record<string, number>> = { s: 1, m: 60, h: 3600, d: 86_400, w: 7 * 86_400 };

/**
 * Parses `--expires`: a lifetime such as `30d`, `12h`, `1d12h`, `90m`, `45s` or `2w`, into seconds;
 * `never` (or `0`) means the token never expires and gives 0, as the API expects.
 */
export function parseExpiry(arg: string): number {
  const text = arg.trim().toLowerCase();
  if (text === 'never' || text === '0') return 0;
  if (!/^(\d+[smhdw])+$/.test(text)) {
    throw new InvalidArgumentError('expected a lifetime like 30d, 12h, 1d12h, 90m or 2w (units s m h d w), or "never"');
  }
  let seconds = 0;
  for (const [, amount, unit] of text.matchAll(/(\d+)([smhdw])/g)) seconds += Number(amount) * UNIT_SECONDS[unit!]!;
  if (seconds === 0) throw new InvalidArgumentError('a lifetime must be longer than 0s; use "never" for a token that does not expire');
  if (!Number.isSafeInteger(seconds)) throw new InvalidArgumentError('that lifetime is too long; use "never" instead');
  return seconds;
}

/**
 * Parses repeated `--metadata KEY=VALUE` into the labels parsed so far. The value may contain `=` and
 * may be empty; a later label with the same key wins.
 */
export function parseMetadata(arg: string, previous: Readonly<Record<string, string>> = {}): Record<string, string> {
  const eq = arg.indexOf('=');
  if (eq < 0) throw new InvalidArgumentError('expected KEY=VALUE, e.g. --metadata owner=ci');
  const key = arg.slice(0, eq).trim();
  if (!key) throw new InvalidArgumentError('the label name before "=" is empty');
  return { ...previous, [key]: arg.slice(eq + 1) };
}

/**
 * Parses a comma-separated namespace list: exact namespace ids (`team-a`) and regular expressions
 * between slashes (`/team-.*\/`), which may themselves contain commas (`/a{1,3}/`). Order is kept,
 * repeats dropped.
 */
export function parseNamespaces(arg: string): string[] {
  const items: string[] = [];
  let i = 0;
  while (i < arg.length) {
    while (arg[i] === ' ' || arg[i] === ',') i++;
    if (i >= arg.length) break;
    if (arg[i] === '/') {
      let j = i + 1;
      while (j < arg.length && arg[j] !== '/') j += arg[j] === '\\' ? 2 : 1;
      if (j >= arg.length) throw new InvalidArgumentError(`the pattern ${arg.slice(i)} has no closing "/"`);
      const pattern = arg.slice(i, j + 1);
      try {
        new RegExp(pattern.slice(1, -1));
      } catch (err) {
        throw new InvalidArgumentError(`${pattern} is not a valid regular expression (${(err as Error).message})`);
      }
      const rest = arg.slice(j + 1).trimStart();
      if (rest && !rest.startsWith(',')) throw new InvalidArgumentError(`expected a comma after ${pattern}`);
      items.push(pattern);
      i = j + 1;
      continue;
    }
    let j = arg.indexOf(',', i);
    if (j < 0) j = arg.length;
    const id = arg.slice(i, j).trim();
    if (!isValidId(NAMESPACE_ID, id)) {
      throw new InvalidArgumentError(
        `"${id}" is not a namespace id (${NAMESPACE_ID.howTo}); write a pattern as /regex/`,
      );
    }
    items.push(id);
    i = j;
  }
  if (items.length === 0) throw new InvalidArgumentError('name at least one namespace, e.g. team-a or /team-.*/');
  return [...new Set(items)];
}

/**
 * Checks an object key before any byte is sent, by the API's rule: the interpolation key pattern
 * (`^[A-Za-z0-9_.-]{1,256}$`, libs/pipeline), and not `.` or `..`.
 */
export function parseObjectKey(arg: string): string {
  if (!INTERPOLATION_KEY_PATTERN.test(arg) || arg === '.' || arg === '..') {
    throw new InvalidArgumentError('an object key is 1-256 of A-Z a-z 0-9 _ . - (and not "." or "..")');
  }
  return arg;
}

/**
 * A parser of a comma-separated list of `words` (`--status failed,cancelled`), each turned into its
 * enum name (`RUN_STATUS_FAILED`); an unknown word names the ones that exist.
 */
export function wordList<T extends string>(what: string, words: Readonly<Record<string, T>>): (arg: string) => T[] {
  return (arg) => {
    const picked = arg.split(',').map((word) => word.trim().toLowerCase()).filter(Boolean);
    if (picked.length === 0) throw new InvalidArgumentError(`expected one or more ${what}s, comma-separated`);
    return [...new Set(picked.map((word) => {
      const name = words[word];
      if (!name) throw new InvalidArgumentError(`"${word}" is not a ${what}: use ${Object.keys(words).join(', ')}`);
      return name;
    }))];
  };
}

/** The largest `--tail` Gofer serves (GetTaskRunLogs' `tail`). */
const MAX_TAIL_BYTES = 16 * 1024 * 1024;

/** Parses `--tail`: bytes, or with a unit (`64k`, `2M`: KiB, MiB), up to 16M. */
export function parseTailSize(arg: string): number {
  const match = /^(\d+)\s*(k|m)?(?:i?b)?$/i.exec(arg.trim());
  const bytes = match ? Number(match[1]) * (match[2] ? (match[2].toLowerCase() === 'k' ? 1024 : 1024 * 1024) : 1) : Number.NaN;
  if (!Number.isSafeInteger(bytes) || bytes < 1) throw new InvalidArgumentError('expected a size such as 4096, 64k or 2M');
  if (bytes > MAX_TAIL_BYTES) throw new InvalidArgumentError(`at most 16M (${MAX_TAIL_BYTES} bytes)`);
  return bytes;
}
