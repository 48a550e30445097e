import { describe, expect, it } from 'vitest';
import { FilterError, parseFilter } from './list-filter.js';

const job = { ID: 'run-1', Type: 'batch', Status: 'running', Priority: 50, Stop: false, Meta: { 'gofer.run': '42', 'gofer.task': 'a "b"' } };
const noMeta = { ID: 'other', Type: 'service', Meta: null };

describe('parseFilter (go-bexpr semantics)', () => {
  const tests: Array<{ expression: string; object?: Record<string, unknown>; matches: boolean }> = [
    { expression: 'Meta["gofer.run"] == "42"', matches: true },
    { expression: 'Meta["gofer.run"] == "43"', matches: false },
    { expression: 'Meta["gofer.run"] != "43"', matches: true },
    { expression: 'Meta["gofer.run"] == `42`', matches: true },
    { expression: 'Meta["gofer.run"] == "42" and Type == "batch"', matches: true },
    { expression: 'Meta["gofer.run"] == "42" and Type == "service"', matches: false },
    { expression: 'Meta["gofer.task"] == `a "b"`', matches: true },
    { expression: '"gofer.run" in Meta', matches: true },
    { expression: '"missing" in Meta', matches: false },
    { expression: '"missing" in Meta and Meta["missing"] == "x"', matches: false }, // short-circuits before the missing key
    { expression: '"gofer.run" in Meta and Meta["gofer.run"] == "42"', object: noMeta, matches: false }, // `in` on a null map
    { expression: 'Priority == 50 and Stop == false', matches: true },
    { expression: 'Meta.x == "and"', object: { Meta: { x: 'and' } }, matches: true },
  ];
  for (const { expression, object = job, matches } of tests) {
    it(`${expression} → ${matches}`, () => {
      expect(parseFilter(expression)(object)).toBe(matches);
    });
  }

  it('a comparison on a key the object lacks is an error, as in go-bexpr (Nomad answers 400)', () => {
    expect(() => parseFilter('Meta["missing"] == "x"')(job)).toThrow(/couldn't find key "missing"/);
    expect(() => parseFilter('Meta["gofer.run"] == "42"')(noMeta)).toThrow(FilterError);
  });

  it('refuses what it does not parse', () => {
    expect(() => parseFilter('Meta["x"] matches "y"')).toThrow(FilterError);
    expect(() => parseFilter('Meta["x"] == "y" or Type == "batch"')).toThrow(FilterError);
    expect(() => parseFilter('')).toThrow(FilterError);
  });
});
