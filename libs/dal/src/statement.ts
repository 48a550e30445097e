import pg, { type Pool, type PoolClient } from 'pg';

const { escapeLiteral } = pg;

/**
 * A statement run on every task attempt or run transition. Named, so each connection parses and plans
 * it once; TypeORM's builders cost more CPU than the statements themselves on this path (bench/:
 * control-plane). Each lives in the repository of the table it mainly writes.
 */
export interface Statement {
  name: string;
  text: string;
}

/** Runs a named statement; its rows. */
export async function runStatement<R extends object>(target: Pool | PoolClient, statement: Statement, values: unknown[]): Promise<R[]> {
  return (await target.query<R>({ name: statement.name, text: statement.text, values })).rows;
}

/**
 * A value as an SQL literal, for the statements that travel with BEGIN or COMMIT (the simple protocol
 * has no parameters). Strings are escaped by node-postgres' `escapeLiteral`.
 */
export function literal(value: string | number | boolean | Date | null | readonly string[]): string {
  if (value === null) return 'NULL';
  if (typeof value === 'boolean') return value ? 'TRUE' : 'FALSE';
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new Error(`not a finite number: ${value}`);
    return String(value);
  }
  if (value instanceof Date) return `${escapeLiteral(value.toISOString())}::timestamptz`;
  if (Array.isArray(value)) return value.length === 0 ? `'{}'::text[]` : `ARRAY[${value.map(text).join(', ')}]::text[]`;
  return text(value);
}

/** escapeLiteral turns anything but a string into '' without a word: refuse instead. */
function text(value: unknown): string {
  if (typeof value !== 'string') throw new Error(`cannot write a ${typeof value} as an SQL text literal`);
  return escapeLiteral(value);
}

