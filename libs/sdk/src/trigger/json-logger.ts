import type { TriggerLogger } from './trigger.js';

/** Where log lines go; one call per line, newline included. */
export type LogSink = (line: string) => void;

/**
 * A {@link TriggerLogger} writing one JSON object per line: `level`, `time` (ISO 8601), `msg`, then
 * `base` and the call's fields. Errors become their message (and `name` when not a plain Error), so a
 * line never carries a stack or a circular object. No dependency: the SDK stays small to install.
 */
export function jsonLogger(base: Record<string, unknown> = {}, sink: LogSink = (line) => process.stderr.write(line)): TriggerLogger {
  const write = (level: string, fields: Record<string, unknown>, msg: string): void => {
    const entry = { level, time: new Date().toISOString(), msg, ...base, ...fields };
    sink(`${safeStringify(entry)}\n`);
  };
  return {
    info: (fields, msg) => write('info', fields, msg),
    warn: (fields, msg) => write('warn', fields, msg),
    error: (fields, msg) => write('error', fields, msg),
  };
}

function safeStringify(entry: Record<string, unknown>): string {
  const seen = new WeakSet<object>();
  try {
    return JSON.stringify(entry, (_key, value: unknown) => {
      if (value instanceof Error) return value.name === 'Error' ? value.message : `${value.name}: ${value.message}`;
      if (typeof value === 'bigint') return value.toString();
      if (typeof value === 'object' && value !== null) {
        if (seen.has(value)) return '[repeated]';
        seen.add(value);
      }
      return value;
    });
  } catch (error) {
    // A getter that throws, say: still say something rather than lose the line.
    return JSON.stringify({ level: entry.level, time: entry.time, msg: entry.msg, log_error: String(error) });
  }
}
