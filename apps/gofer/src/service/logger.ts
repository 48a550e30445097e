import type { LoggerService } from '@nestjs/common';
import { pino, type DestinationStream, type Logger } from 'pino';

// Fields of errors that hold the values a statement was run with (TypeORM's QueryFailedError keeps
// `parameters`): a whole pipeline config, secret ciphertext, a run's variables. Never logged.
const DROPPED_ERROR_FIELDS = new Set(['parameters']);
// Longest text kept from one field of a logged error (a multi-row statement, a value quoted in a
// driver's message), how deep into an error's fields the log goes, and how many items of a list.
const MAX_ERROR_TEXT = 4096;
const MAX_ERROR_DEPTH = 4;
const MAX_ERROR_ITEMS = 20;

/**
 * Structured JSON logs on stdout, ids as fields (`run_id`, `task_id`), never interpolated. Errors
 * logged as `err` go through {@link serializeError}.
 */
export function createLogger(level: string, destination?: DestinationStream): Logger {
  const options = {
    level,
    base: { pid: process.pid },
    timestamp: pino.stdTimeFunctions.isoTime,
    serializers: { err: serializeError },
  };
  return destination === undefined ? pino(options) : pino(options, destination);
}

/**
 * An error as pino logs it (type, message, stack, causes, own fields), without the fields that carry
 * a request's values wholesale (a failed query's `parameters`) and with every text cut short.
 */
export function serializeError(error: unknown): unknown {
  return redacted(pino.stdSerializers.err(error as Error), 0);
}

function redacted(value: unknown, depth: number): unknown {
  if (typeof value === 'string') {
    return value.length > MAX_ERROR_TEXT ? `${value.slice(0, MAX_ERROR_TEXT)}… (${value.length - MAX_ERROR_TEXT} more characters)` : value;
  }
  if (typeof value !== 'object' || value === null) return value;
  if (ArrayBuffer.isView(value)) return `[${value.byteLength} bytes, not logged]`;
  if (depth >= MAX_ERROR_DEPTH) return '[not logged: nested too deeply]';
  if (Array.isArray(value)) {
    const items = value.slice(0, MAX_ERROR_ITEMS).map((item) => redacted(item, depth + 1));
    return value.length > MAX_ERROR_ITEMS ? [...items, `… ${value.length - MAX_ERROR_ITEMS} more items`] : items;
  }
  const out: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(value)) {
    if (!DROPPED_ERROR_FIELDS.has(key)) out[key] = redacted(item, depth + 1);
  }
  return out;
}

/** Routes NestJS's own log lines into pino. */
export class NestPinoLogger implements LoggerService {
  constructor(private readonly logger: Logger) {}
  log(message: unknown, context?: string) { this.logger.info({ context }, String(message)); }
  error(message: unknown, trace?: string, context?: string) { this.logger.error({ context, trace }, String(message)); }
  warn(message: unknown, context?: string) { this.logger.warn({ context }, String(message)); }
  debug(message: unknown, context?: string) { this.logger.debug({ context }, String(message)); }
  verbose(message: unknown, context?: string) { this.logger.trace({ context }, String(message)); }
}
