import { describe, expect, it } from 'vitest';
import { GoferError } from '@gofer/errors';
import { assertNoNulCharacters, nulCharacterProblems } from './request-strings.js';

describe('nulCharacterProblems', () => {
  const cases: Array<{ name: string; request: object; problems: string[] }> = [
    { name: 'a clean request', request: { namespaceId: 'default', pipelineId: 'p', variables: { A: 'x' }, runId: 3 }, problems: [] },
    { name: 'a field, named as in the proto', request: { namespaceId: 'a\0', pipelineId: 'p' }, problems: ['namespace_id: contains a NUL character'] },
    { name: 'a map value', request: { variables: { A: 'x\0y', 'MY VAR': '\0' } }, problems: ['variables.A: contains a NUL character', 'variables["MY VAR"]: contains a NUL character'] },
    { name: 'a map key', request: { variables: { 'A\0B': 'x' } }, problems: ['variables: key "A\\u0000B" contains a NUL character'] },
    { name: 'a list item', request: { namespaces: ['a', 'b\0'] }, problems: ['namespaces[1]: contains a NUL character'] },
    { name: 'bytes, which may hold anything', request: { config: Buffer.from('a\0b'), chunk: new Uint8Array([0]) }, problems: [] },
  ];

  it.each(cases)('finds the NUL characters in $name', ({ request, problems }) => {
    expect(nulCharacterProblems(request)).toStrictEqual(problems);
  });

  it('names the first 20 fields and counts the rest', () => {
    const variables = Object.fromEntries(Array.from({ length: 30 }, (_, i) => [`V${i}`, '\0']));
    const problems = nulCharacterProblems({ variables });
    expect(problems).toHaveLength(21);
    expect(problems[19]).toBe('variables.V19: contains a NUL character');
    expect(problems[20]).toBe('… and 10 more fields with a NUL character');
  });

  it('does not look deeper than a request can nest', () => {
    let deep: Record<string, unknown> = { leaf: '\0' };
    for (let i = 0; i < 10_000; i++) deep = { inner: deep };
    expect(nulCharacterProblems({ deep })).toStrictEqual([]);
  });
});

describe('assertNoNulCharacters', () => {
  it('refuses a request with every problem, as INVALID_ARGUMENT', () => {
    const refusal = (() => {
      try {
        assertNoNulCharacters({ key: 'k\0', value: 'v\0' });
      } catch (error) {
        return error;
      }
    })();
    expect(refusal).toBeInstanceOf(GoferError);
    expect(refusal).toMatchObject({ code: 'invalid_argument', message: 'key: contains a NUL character\nvalue: contains a NUL character' });
    expect(() => assertNoNulCharacters({ key: 'k' })).not.toThrow();
  });
});
