import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';

/**
 * Every SQL statement lives in libs/dal (its repositories, the statement helpers and migrations):
 * services hold rules, repositories hold statements. dependency-cruiser (`npm run deps`) keeps the pg
 * driver inside libs/dal; this keeps the statements there too.
 */
const root = join(import.meta.dirname, '..', '..');
const SQL = [/\bSELECT\b[^\n`'"]*\bFROM\b/, /\bINSERT INTO\b/, /\bUPDATE\s+[a-z_]+\s+(?:[a-z]\s+)?SET\b/, /\bDELETE FROM\b/, /['"`]SELECT 1['"`]/];

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return entry.name === 'dist' || entry.name === 'node_modules' ? [] : sourceFiles(path);
    return entry.name.endsWith('.ts') && !entry.name.endsWith('.spec.ts') ? [path] : [];
  });
}

describe('SQL ownership', () => {
  const outsideDal = [...sourceFiles(join(root, 'apps')), ...sourceFiles(join(root, 'libs'))]
    .map((path) => relative(root, path))
    .filter((path) => !path.startsWith('libs/dal/'));

  it('scans the services', () => {
    expect(outsideDal).toContain('libs/engine/src/run-engine.service.ts');
  });

  it('finds no SQL statement outside libs/dal', () => {
    const found = outsideDal.flatMap((path) =>
      readFileSync(join(root, path), 'utf8').split('\n').flatMap((line, index) =>
        SQL.some((pattern) => pattern.test(line)) ? [`${path}:${index + 1}: ${line.trim()}`] : [],
      ),
    );
    expect(found).toEqual([]);
  });

  it('recognises the statements it looks for', () => {
    for (const line of ["`SELECT 1 AS found FROM pipelines WHERE id = $1`", 'INSERT INTO workers (id)', 'UPDATE task_runs t SET state', "DELETE FROM workers WHERE", "query('SELECT 1')"]) {
      expect(SQL.some((pattern) => pattern.test(line)), line).toBe(true);
    }
  });
});
