// Pure text formatting for plain output: durations, relative times, tables. No I/O here, so every
// rule is unit-tested in format.spec.ts.

/** Formats a duration: `0.4s`, `3.2s`, `59.9s`, `2m05s`, `1h02m`, `3d04h`. Negative input counts as 0. */
export function formatDuration(ms: number): string {
  const safe = Math.max(0, ms);
  // Decide the unit on the rounded value, so 59.96 s shows as 1m00s rather than "60.0s".
  const tenths = Math.round(safe / 100);
  if (tenths < 600) return `${(tenths / 10).toFixed(1)}s`;
  const seconds = Math.round(safe / 1000);
  if (seconds < 3600) return `${Math.floor(seconds / 60)}m${pad2(seconds % 60)}s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 24 * 60) return `${Math.floor(minutes / 60)}h${pad2(minutes % 60)}m`;
  const hours = Math.floor(minutes / 60);
  return `${Math.floor(hours / 24)}d${pad2(hours % 24)}h`;
}

/**
 * Elapsed time of something that started at `started` and ended at `ended` (unix ms, 0 = not set):
 * until `now` while still going, `undefined` if it never started.
 */
export function elapsedMs(started: number, ended: number, now: number): number | undefined {
  if (!started) return undefined;
  return (ended || now) - started;
}

/** `formatDuration` of {@link elapsedMs}, or `-` when it never started. */
export function formatElapsed(started: number, ended: number, now: number): string {
  const ms = elapsedMs(started, ended, now);
  return ms === undefined ? '-' : formatDuration(ms);
}

/** A past instant relative to `now`: `just now`, `42s ago`, `5m ago`, `3h ago`, `2d ago`; `-` when unset. */
export function formatAgo(at: number, now: number): string {
  if (!at) return '-';
  const seconds = Math.floor((now - at) / 1000);
  if (seconds < 5) return 'just now';
  if (seconds < 60) return `${seconds}s ago`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)}m ago`;
  if (seconds < 86_400) return `${Math.floor(seconds / 3600)}h ago`;
  if (seconds < 30 * 86_400) return `${Math.floor(seconds / 86_400)}d ago`;
  return new Date(at).toISOString().slice(0, 10);
}

/** A timestamp for detail views: `5m ago (2025-01-02T03:04:05.000Z)`, or `-` when unset. */
export function formatTimestamp(at: number, now: number): string {
  return at ? `${formatAgo(at, now)} (${new Date(at).toISOString()})` : '-';
}

/** A future instant relative to `now`: `in 42s`, `in 5m`, `in 3h`, `in 29d`; past ones as {@link formatAgo}. */
export function formatIn(at: number, now: number): string {
  if (at <= now) return formatAgo(at, now);
  const seconds = Math.ceil((at - now) / 1000);
  if (seconds < 60) return `in ${seconds}s`;
  if (seconds < 3600) return `in ${Math.floor(seconds / 60)}m`;
  if (seconds < 86_400) return `in ${Math.floor(seconds / 3600)}h`;
  return `in ${Math.floor(seconds / 86_400)}d`;
}

const BYTE_UNITS = ['KiB', 'MiB', 'GiB', 'TiB'];

/** A byte count for people: `0 B`, `999 B`, `1.0 KiB`, `20.0 MiB`, `1.5 GiB` (binary units, one decimal). */
export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${Math.max(0, Math.round(bytes))} B`;
  let value = bytes / 1024;
  let unit = 0;
  // Move up a unit when the rounded value would read 1024.0.
  while (Math.round(value * 10) / 10 >= 1024 && unit < BYTE_UNITS.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value.toFixed(1)} ${BYTE_UNITS[unit]}`;
}

/**
 * Lays out rows under headers in columns separated by two spaces. The last column is not padded, so
 * lines carry no trailing spaces.
 */
export function formatTable(headers: readonly string[], rows: ReadonlyArray<readonly string[]>): string {
  const all = [headers, ...rows];
  const widths = headers.map((_, column) => Math.max(...all.map((row) => (row[column] ?? '').length)));
  return all
    .map((row) =>
      headers
        .map((_, column) => {
          const cell = row[column] ?? '';
          return column === headers.length - 1 ? cell : cell.padEnd(widths[column]!);
        })
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

/** Lays out `label value` pairs with the values aligned, each line indented by `indent`. */
export function formatFields(fields: ReadonlyArray<readonly [string, string]>, indent = '  '): string {
  const width = Math.max(...fields.map(([label]) => label.length));
  return fields.map(([label, value]) => `${indent}${label.padEnd(width)}  ${value}`).join('\n');
}

function pad2(n: number): string {
  return String(n).padStart(2, '0');
}
