import { describe, expect, it } from 'vitest';
import { jsonLogger } from './json-logger.js';

describe('jsonLogger', () => {
  it('writes one JSON object per line with level, time, msg, the base fields and the call fields', () => {
    const lines: string[] = [];
    const log = jsonLogger({ trigger: 'cron' }, (line) => lines.push(line));
    const cycle: Record<string, unknown> = {};
    cycle.self = cycle;
    log.info({ run_id: 3 }, 'posted');
    log.warn({ error: new TypeError('bad'), big: 10n }, 'careful');
    log.error({ error: new Error('boom'), cycle }, 'failed');
    expect(lines.every((line) => line.endsWith('\n') && !line.slice(0, -1).includes('\n'))).toBe(true);
    const entries = lines.map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(entries.map(({ time, ...rest }) => (expect(new Date(time as string).toISOString()).toBe(time), rest))).toEqual([
      { level: 'info', msg: 'posted', trigger: 'cron', run_id: 3 },
      { level: 'warn', msg: 'careful', trigger: 'cron', error: 'TypeError: bad', big: '10' },
      { level: 'error', msg: 'failed', trigger: 'cron', error: 'boom', cycle: { self: '[repeated]' } },
    ]);
  });
});
