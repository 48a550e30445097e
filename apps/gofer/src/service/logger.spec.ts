import { describe, expect, it } from 'vitest';
import { QueryFailedError } from 'typeorm';
import { createLogger } from './logger.js';

/** A logger writing its JSON lines into an array. */
function capture(): { lines: Record<string, unknown>[]; logger: ReturnType<typeof createLogger> } {
  const lines: Record<string, unknown>[] = [];
  const logger = createLogger('info', { write: (line: string) => void lines.push(JSON.parse(line)) });
  return { lines, logger };
}

describe('createLogger: errors', () => {
  const config = JSON.stringify({ id: 'demo', description: 'marker-7d3f\u0000', tasks: [{ id: 'a', image: 'b' }] });
  const driverError = Object.assign(new Error('unsupported Unicode escape sequence'), { code: '22P05', detail: '\\u0000 cannot be converted to text.' });

  it('logs a failed query without the values it was run with', () => {
    const { lines, logger } = capture();
    const error = new QueryFailedError('INSERT INTO pipeline_configs (config) VALUES ($1)', [config, 'demo'], driverError);
    logger.error({ err: error }, 'rpc failed unexpectedly');
    const text = JSON.stringify(lines);
    expect(text).not.toContain('marker-7d3f');
    expect(lines[0]!.err).toMatchObject({
      type: 'QueryFailedError',
      message: 'unsupported Unicode escape sequence',
      query: 'INSERT INTO pipeline_configs (config) VALUES ($1)',
      code: '22P05',
      driverError: { type: 'Error', code: '22P05', detail: '\\u0000 cannot be converted to text.' },
    });
    expect(lines[0]!.err).not.toHaveProperty('parameters');
  });

  it('drops parameters wherever they sit, and cuts long texts and lists short', () => {
    const { lines, logger } = capture();
    const inner = new QueryFailedError('SELECT 1', [config], driverError);
    const error = Object.assign(new Error('x'.repeat(10_000)), { failed: inner, data: Buffer.alloc(1000), ids: Array.from({ length: 50 }, (_, i) => i) });
    logger.error({ err: error }, 'failed');
    const err = lines[0]!.err as Record<string, unknown>;
    expect(JSON.stringify(lines)).not.toContain('marker-7d3f');
    expect(err.failed).not.toHaveProperty('parameters');
    expect(err.message).toBe(`${'x'.repeat(4096)}… (5904 more characters)`);
    expect(err.data).toBe('[1000 bytes, not logged]');
    expect(err.ids).toEqual([...Array.from({ length: 20 }, (_, i) => i), '… 30 more items']);
  });

  it('still logs plain errors with their type, message and stack', () => {
    const { lines, logger } = capture();
    logger.warn({ err: new TypeError('boom') }, 'failed');
    expect(lines[0]!.err).toMatchObject({ type: 'TypeError', message: 'boom', stack: expect.stringContaining('TypeError: boom') });
  });
});
