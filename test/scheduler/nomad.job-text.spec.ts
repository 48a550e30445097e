// The pure parts of the Nomad scheduler: how a label set becomes a job-list filter and how strings
// are kept literal through Nomad's HCL decoding of the driver config. Its behaviour against Nomad's
// API is in nomad.scheduler*.spec.ts; what Nomad does with them is the stand-in's (apps/nomad-dev).
import { describe, expect, it } from 'vitest';
import { parseFilter } from '../../apps/nomad-dev/src/list-filter.js';
import { decodeDriverConfig } from '../../apps/nomad-dev/src/docker-task.runner.js';
import { literal, metaFilter } from '../../libs/scheduler/src/nomad/nomad.scheduler.js';

describe('metaFilter', () => {
  it('guards every comparison with `in`, so jobs without the key do not fail the whole list', () => {
    expect(metaFilter({ 'gofer.cluster': 'abc', role: 'b' })).toBe(
      '"gofer.cluster" in Meta and Meta["gofer.cluster"] == "abc" and "role" in Meta and Meta["role"] == "b"',
    );
    const matches = parseFilter(metaFilter({ role: 'b' })!);
    expect(matches({ Meta: { role: 'b' } })).toBe(true);
    expect(matches({ Meta: { other: 'x' } })).toBe(false);
    expect(matches({ Meta: null })).toBe(false);
  });

  it('quotes with backticks what holds a double quote, and leaves out what holds both quotes', () => {
    expect(metaFilter({ k: 'a "b"' })).toBe('"k" in Meta and Meta["k"] == `a "b"`');
    expect(metaFilter({ k: 'both " and `' })).toBeUndefined();
    expect(metaFilter({})).toBeUndefined();
    expect(parseFilter(metaFilter({ k: 'a "b"' })!)({ Meta: { k: 'a "b"' } })).toBe(true);
  });
});

describe('literal', () => {
  const env = { NOMAD_JOB_ID: 'job-1' };
  const cases = ['echo ${NOMAD_JOB_ID}', 'echo ${UNKNOWN:-x} %{if true}', '$${already}', 'a $ b % c {d}', '$$${x}', ''];
  for (const text of cases) {
    it(`${JSON.stringify(text)} survives Nomad's template decoding unchanged`, () => {
      expect(decodeDriverConfig({ command: literal(text) }, env).command).toBe(text);
    });
  }
});
