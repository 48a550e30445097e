const UNIT_MS = { h: 3_600_000, m: 60_000, s: 1_000, ms: 1 } as const;
type Unit = keyof typeof UNIT_MS;
const UNITS_LARGEST_FIRST: readonly Unit[] = ['h', 'm', 's', 'ms'];

// `ms` before `m` so that "10ms" is not read as ten minutes followed by a stray "s".
const PART = /(\d+(?:\.\d+)?)(ms|h|m|s)/y;
const MAX_LENGTH = 64;

/**
 * Parses a Go-style duration (`500ms`, `2s`, `10m`, `1h30m`, `1.5h`) into milliseconds.
 *
 * Strict on purpose, so a typo never turns into a surprising value: units are `h`, `m`, `s` and `ms`
 * (lower case), each at most once and largest first; every number has a unit, except a bare `0`;
 * no signs, spaces or exponents. Fractions are allowed and the result is rounded to the nearest
 * millisecond.
 *
 * @returns the duration in whole milliseconds, or `undefined` when `text` is not a valid duration.
 */
export function parseDuration(text: string): number | undefined {
  if (typeof text !== 'string' || text.length === 0 || text.length > MAX_LENGTH) return undefined;
  if (text === '0') return 0;
  let total = 0;
  let position = 0;
  let lastUnitIndex = -1;
  while (position < text.length) {
    PART.lastIndex = position;
    const match = PART.exec(text);
    if (match === null) return undefined;
    const unit = match[2] as Unit;
    const unitIndex = UNITS_LARGEST_FIRST.indexOf(unit);
    if (unitIndex <= lastUnitIndex) return undefined;
    lastUnitIndex = unitIndex;
    total += Number(match[1]) * UNIT_MS[unit];
    position = PART.lastIndex;
  }
  const rounded = Math.round(total);
  return Number.isSafeInteger(rounded) ? rounded : undefined;
}

/**
 * Formats milliseconds as the shortest duration {@link parseDuration} reads back to the same value:
 * `90000` → `1m30s`, `1500` → `1s500ms`, `0` → `0s`.
 */
export function formatDuration(ms: number): string {
  if (!Number.isSafeInteger(ms) || ms < 0) throw new RangeError(`cannot format ${ms} as a duration`);
  if (ms === 0) return '0s';
  let rest = ms;
  let out = '';
  for (const unit of UNITS_LARGEST_FIRST) {
    const count = Math.floor(rest / UNIT_MS[unit]);
    if (count > 0) {
      out += `${count}${unit}`;
      rest -= count * UNIT_MS[unit];
    }
  }
  return out;
}
