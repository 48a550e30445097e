import { describe, expect, it } from 'vitest';
import { FilterError, parseFilter } from './list-filter.js';

const job = { ID: 'run-1', Type: 'batch', Status: 'running', Priority: 50, Stop: false, Meta: { 'gofer.run': '42', 'gofer.task': 'a "b"' } };

describe('parseFilter', () => {
  const tests: Array<{ expression: string; matches: boolean }> = [
    { expression: 'Meta["gofer.run"] == "42"', matches: true },
    { expression: 'Meta["gofer.run"] == "43"', matches: false },
    { expression: 'Meta["gofer.run"] != "43"', matches: true },
    { expression: 'Meta["gofer.run"] == "42" and Type == "batch"', matches: true },
    { expression: 'Meta["gofer.run"] == "42" and Type == "service"', matches: false },
    { expression: 'Meta["gofer.task"] == "a \\"b\\""', matches: true },
    { expression: 'Meta["missing"] == "x"', matches: false },
    { expression: 'Meta["missing"] != "x"', matches: true },
    { expression: 'Priority == 50 and Stop == false', matches: true },
    { expression: 'Meta.x == "and"', matches: false },
  ];
  for (const { expression, matches } of tests) {
    it(`${expression} → ${matches}`, () => {
      expect(parseFilter(expression)(job)).toBe(matches);
    });
  }

  it('refuses operators it does not support', () => {
    expect(() => parseFilter('Meta["x"] matches "y"')).toThrow(FilterError);
    expect(() => parseFilter('Meta["x"] == "y" or Type == "batch"')).toThrow(FilterError);
  });
});
