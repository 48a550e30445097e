// Units largest first, each at most once: `1h30m`, `90s`, `2m500ms` (the spelling of Gofer's own
// configs; the trigger cannot import libs/pipeline, see .dependency-cruiser.cjs).
const DURATION = /^(?:(\d+)h)?(?:(\d+)m(?!s))?(?:(\d+)s)?(?:(\d+)ms)?$/;

/**
 * Parses a duration such as `30s`, `5m`, `1h30m` or `1500ms` into milliseconds: whole numbers, units
 * `h`, `m`, `s`, `ms` largest first. Undefined when `text` is not one, or is zero.
 */
export function parseDuration(text: string): number | undefined {
  const match = DURATION.exec(text);
  if (!match) return undefined;
  const [h, m, s, ms] = match.slice(1).map((part) => Number(part ?? 0));
  const total = h! * 3_600_000 + m! * 60_000 + s! * 1_000 + ms!;
  return Number.isSafeInteger(total) && total > 0 ? total : undefined;
}
