import { InvalidArgumentError } from 'commander';
import { describe, expect, it } from 'vitest';
import { parseRoles } from './service.command.js';
import { parseCount, parseRunId, parseVariable } from './variables.js';

describe('parseVariable (-v KEY=VALUE)', () => {
  it('adds to the variables parsed so far', () => {
    expect(parseVariable('WHO=world', { A: '1' })).toEqual({ A: '1', WHO: 'world' });
  });

  it('keeps = inside the value, allows an empty value, and lets a later -v win', () => {
    expect(parseVariable('Q=a=b==', {})).toEqual({ Q: 'a=b==' });
    expect(parseVariable('EMPTY=', {})).toEqual({ EMPTY: '' });
    expect(parseVariable('A=2', { A: '1' })).toEqual({ A: '2' });
  });

  it('does not mutate the previous object (commander reuses the default)', () => {
    const previous = {};
    parseVariable('A=1', previous);
    expect(previous).toEqual({});
  });

  const bad: Array<[string, RegExp]> = [
    ['NOEQUALS', /expected KEY=VALUE/],
    ['=value', /variable name ""/],
    ['1A=x', /variable name "1A"/],
    ['A-B=x', /variable name "A-B"/],
  ];
  it.each(bad)('rejects %s as a usage error', (arg, message) => {
    expect(() => parseVariable(arg, {})).toThrow(InvalidArgumentError);
    expect(() => parseVariable(arg, {})).toThrow(message);
  });
});

describe('parseRunId', () => {
  it('accepts positive integers', () => expect(parseRunId('42')).toBe(42));
  it.each(['0', '-1', '1.5', 'abc', '', '1e3', '99999999999999999999'])('rejects %j', (arg) => {
    expect(() => parseRunId(arg)).toThrow(InvalidArgumentError);
  });
});

describe('parseCount', () => {
  it('accepts whole numbers including 0', () => expect([parseCount('0'), parseCount('20')]).toEqual([0, 20]));
  it('rejects others', () => expect(() => parseCount('-3')).toThrow(InvalidArgumentError));
});

describe('parseRoles (--roles)', () => {
  it('accepts api, worker, both, with spaces and repeats', () => {
    expect(parseRoles('api')).toEqual(['api']);
    expect(parseRoles('api, worker')).toEqual(['api', 'worker']);
    expect(parseRoles('worker,worker')).toEqual(['worker']);
  });
  it('rejects unknown and empty role lists', () => {
    expect(() => parseRoles('api,db')).toThrow(/unknown role "db"/);
    expect(() => parseRoles(',')).toThrow(/at least one role/);
  });
});
