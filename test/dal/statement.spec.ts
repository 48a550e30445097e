import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { literal } from '@gofer/dal';

/**
 * The statements that travel with BEGIN or COMMIT inline their values; Postgres itself must read each
 * literal back as exactly the value, whatever it holds.
 */
describe('literal', () => {
  const client = new pg.Client({ connectionString: 'postgres://postgres@127.0.0.1:5432/postgres' });
  beforeAll(() => client.connect());
  afterAll(() => client.end());

  const hostile = [
    '', 'plain', "it's", "''", "\\'; DROP TABLE runs; --", 'back\\slash', 'E\'x\'', '$$dollar$$', 'new\nline\ttab',
    'unicode ✓ 日本語 🚀', JSON.stringify({ description: 'quote " and \\ and \u0001 control' }), '\\', "'",
  ];

  it.each(hostile)('round-trips %j through Postgres', async (value) => {
    const { rows } = await client.query(`SELECT ${literal(value)} AS v`);
    expect(rows[0].v).toBe(value);
  });

  it('round-trips text arrays, numbers, booleans, dates and null', async () => {
    const when = new Date('2026-11-26T12:34:56.789Z');
    const { rows } = await client.query(
      `SELECT ${literal(hostile)} AS a, ${literal([])} AS e, ${literal(42)} AS n, ${literal(true)} AS b, ${literal(when)} AS d, ${literal(null)} AS z`,
    );
    expect(rows[0]).toEqual({ a: hostile, e: [], n: 42, b: true, d: when, z: null });
  });

  it('refuses numbers that are not finite', () => {
    expect(() => literal(Number.NaN)).toThrow(/finite/);
    expect(() => literal(Number.POSITIVE_INFINITY)).toThrow(/finite/);
  });

  it('refuses values that are not strings where a string is expected (escapeLiteral would write them as empty)', () => {
    expect(() => literal(undefined as unknown as string)).toThrow(/undefined/);
    expect(() => literal({ toString: () => 'x' } as unknown as string)).toThrow(/object/);
    expect(() => literal([1] as unknown as string[])).toThrow(/number/);
  });
});
