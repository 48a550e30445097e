import { describe, expect, it } from 'vitest';
import { EXTENSION_NAME, idProblem, type IdRule, idRuleHint, isValidId, LABEL, NAMESPACE_ID, PIPELINE_ID, TASK_ID, TOKEN_ID, VARIABLE_NAME } from './ids.js';

describe('id rules', () => {
  const tests: Array<{ rule: IdRule; valid: string[]; invalid: string[] }> = [
    { rule: NAMESPACE_ID, valid: ['abc', 'default', 'team-a_1', '0ns', 'n'.repeat(32)], invalid: ['', 'a', 'ab', 'n'.repeat(33), 'n'.repeat(64), 'Team', '-team', '_team', 'team a', 'tëam', 'a/b'] },
    { rule: PIPELINE_ID, valid: ['abc', 'p'.repeat(32)], invalid: ['ab', 'p'.repeat(33), 'Hello World', '../../etc/passwd'] },
    { rule: TASK_ID, valid: ['a', 'db', 't'.repeat(64)], invalid: ['', 't'.repeat(65), 'Build', '-a'] },
    { rule: EXTENSION_NAME, valid: ['cron', 'e'.repeat(32)], invalid: ['', 'e'.repeat(33), 'Cron'] },
    { rule: LABEL, valid: ['l', 'l'.repeat(32)], invalid: ['', 'l'.repeat(33), 'Console Output'] },
    { rule: VARIABLE_NAME, valid: ['A', '_x', 'GOFER_1'], invalid: ['', '1X', 'BAD-NAME', 'A B'] },
    { rule: TOKEN_ID, valid: ['tok_0123456789abcdef'], invalid: ['tok_0123456789ABCDEF', 'tok_0123', 'x_0123456789abcdef'] },
  ];

  it.each(tests)('$rule.name', ({ rule, valid, invalid }) => {
    for (const value of valid) expect(isValidId(rule, value), value).toBe(true);
    for (const value of invalid) expect(isValidId(rule, value), value).toBe(false);
  });

  it('say how to write a slug id with the bounds they check', () => {
    expect(NAMESPACE_ID.howTo).toBe('3 to 32 characters a-z, 0-9, _ or -, starting with a letter or digit');
    expect(TASK_ID.howTo).toBe('1 to 64 characters a-z, 0-9, _ or -, starting with a letter or digit');
  });
});

describe('idProblem', () => {
  it('is undefined for a valid id', () => {
    expect(idProblem(NAMESPACE_ID, 'namespace_id', 'default')).toBeUndefined();
  });

  it('names the field, quotes the value and says how to write one', () => {
    expect(idProblem(NAMESPACE_ID, 'namespace_id', 'ab')).toBe(
      'namespace_id: "ab" is not a valid id (3 to 32 characters a-z, 0-9, _ or -, starting with a letter or digit)',
    );
    expect(idProblem(NAMESPACE_ID, 'id', 'Bad Id', { what: NAMESPACE_ID.name })).toMatch(/^id: "Bad Id" is not a valid namespace id \(3 to 32/);
  });

  it('leaves out how to write one when asked, for a caller that says it once after a list of problems', () => {
    expect(idProblem(NAMESPACE_ID, 'namespace_id', 'Bad NS', { explain: false })).toBe('namespace_id: "Bad NS" is not a valid id');
    expect(idRuleHint(NAMESPACE_ID)).toBe('namespace ids are 3 to 32 characters a-z, 0-9, _ or -, starting with a letter or digit');
  });

  it('shortens a long value and escapes what would break the quotes', () => {
    expect(idProblem(TASK_ID, 'task_id', 'x'.repeat(500))).toContain(`"${'x'.repeat(63)}…"`);
    expect(idProblem(TASK_ID, 'task_id', 'a"b\n')).toContain('"a\\"b\\n"');
  });
});
