import { describe, expect, it } from 'vitest';
import { namespaceMatches, validateNamespacePatterns } from './token.service.js';

describe('namespaceMatches', () => {
  const tests: Array<{ pattern: string; namespace: string; matches: boolean; why: string }> = [
    { pattern: 'default', namespace: 'default', matches: true, why: 'an exact name matches itself' },
    { pattern: 'default', namespace: 'defaults', matches: false, why: 'an exact name is not a prefix' },
    { pattern: 'team-.*', namespace: 'team-a', matches: false, why: 'without slashes a pattern is an exact name' },
    { pattern: '/oth.*/', namespace: 'other', matches: true, why: 'a /regex/ matches' },
    { pattern: '/oth.*/', namespace: 'another', matches: false, why: 'a /regex/ must match from the start' },
    { pattern: '/oth/', namespace: 'other', matches: false, why: 'a /regex/ must match to the end' },
    { pattern: '/aaa|bbb/', namespace: 'aaa', matches: true, why: 'the anchors hold the whole alternation' },
    { pattern: '/aaa|bbb/', namespace: 'aaabbb', matches: false, why: 'the anchors hold the whole alternation' },
    { pattern: '/aaa|aaabbb/', namespace: 'aaabbb', matches: true, why: 'any alternative may make the full match' },
    { pattern: '/^prod$/', namespace: 'prod', matches: true, why: 'explicit anchors are allowed' },
    { pattern: '/prod-\\d+/', namespace: 'prod-42', matches: true, why: 'classes and escapes work' },
    { pattern: '/(?:dev|staging)-[a-z]{2}/', namespace: 'staging-eu', matches: true, why: 'groups and counted repeats work' },
    { pattern: '/(?:dev|staging)-[a-z]{2}/', namespace: 'staging-eu1', matches: false, why: 'counted repeats are exact' },
    { pattern: '/.*/', namespace: 'Bad NS', matches: false, why: 'a pattern never runs over something that is not a namespace id' },
    { pattern: '/.*/', namespace: 'a'.repeat(33), matches: false, why: 'namespace ids are at most 32 characters' },
    { pattern: '/.*/', namespace: '', matches: false, why: 'the empty string is not a namespace id' },
    { pattern: '//', namespace: '//', matches: false, why: '"//" is an exact name, and no namespace id' },
    { pattern: '/(a+)+$/', namespace: 'a'.repeat(32), matches: true, why: 'a pattern that backtracks in JavaScript still matches' },
    { pattern: '/(a+)+$/', namespace: `${'a'.repeat(28)}-`, matches: false, why: 'a pattern that backtracks in JavaScript still fails' },
    // Patterns stored before matching moved to RE2 that RE2 cannot run: refused, not run by another engine.
    { pattern: '/(?!prod).*/', namespace: 'dev', matches: false, why: 'lookaheads are not supported: the pattern matches nothing' },
    { pattern: '/(a)\\1/', namespace: 'aa', matches: false, why: 'backreferences are not supported: the pattern matches nothing' },
    // Patterns that JavaScript read as literal characters and RE2 would read as classes or anchors: a
    // stored token must not come to grant more than it did, so they match nothing.
    { pattern: '/[[:alpha:]]+/', namespace: 'abc', matches: false, why: 'a POSIX class (literal characters to JavaScript)' },
    { pattern: '/\\pL+/', namespace: 'abc', matches: false, why: 'a Unicode class escape (the letters "pL" to JavaScript)' },
    { pattern: '/\\Aprod/', namespace: 'prod', matches: false, why: 'a text anchor (the letter "A" to JavaScript)' },
    { pattern: '/team\\-[a-z]+/', namespace: 'team-a', matches: true, why: 'escaped punctuation means the same to both' },
  ];

  it.each(tests)('$pattern on "$namespace": $matches ($why)', ({ pattern, namespace, matches }) => {
    expect(namespaceMatches(pattern, namespace)).toBe(matches);
  });

  it('answers for a pattern that backtracks catastrophically in JavaScript (there, 64 characters would take ages)', () => {
    // With JavaScript's RegExp, 29 characters took 2.6 s and each one more doubles it: this would not finish.
    for (let i = 0; i < 100; i++) expect(namespaceMatches('/(a+)+$/', `${'a'.repeat(31)}-`)).toBe(false);
  });
});

describe('validateNamespacePatterns', () => {
  const tests: Array<{ name: string; patterns: string[]; problems: Array<string | RegExp> }> = [
    { name: 'exact names', patterns: ['default', 'team-a_1'], problems: [] },
    { name: 'regular expressions', patterns: ['/oth.*/', '/(?:dev|staging)-[a-z]{2}/'], problems: [] },
    { name: 'a pattern that backtracks in JavaScript (safe here)', patterns: ['/(a+)+$/'], problems: [] },
    { name: 'an unbalanced expression', patterns: ['/([/'], problems: [/^namespaces\[0\]: "\/\(\[\/" is not a valid regular expression \(.*missing closing \]/] },
    { name: 'a lookahead', patterns: ['/(?!prod).*/'], problems: [/^namespaces\[0\]: "\/\(\?!prod\)\.\*\/" is not a valid regular expression \(.*\(\?!.*\); patterns use RE2 syntax: no lookaround or backreferences$/] },
    { name: 'a backreference', patterns: ['default', '/(a)\\1/'], problems: [/^namespaces\[1\]: .* is not a valid regular expression \(.*\\1.*RE2 syntax/] },
    { name: 'a POSIX class', patterns: ['/[[:alpha:]]+/'], problems: [/^namespaces\[0\]: .* is not a valid regular expression \(POSIX classes such as \[:alpha:\] are not accepted/] },
    { name: 'an escape whose meaning differs between engines', patterns: ['/\\pL+/'], problems: [/^namespaces\[0\]: .* is not a valid regular expression \(the escape \\p is not accepted/] },
    { name: 'a repeat count over 1000', patterns: ['/a{1001}/'], problems: [/^namespaces\[0\]: .* is not a valid regular expression \(.*repeat count/] },
    { name: 'neither an id nor a regex', patterns: ['UPPER'], problems: ['namespaces[0]: "UPPER" is neither a namespace id nor a /regular expression/'] },
    { name: 'an empty pattern', patterns: [''], problems: ['namespaces[0]: must be 1 to 128 characters'] },
    { name: 'a 129-character pattern', patterns: [`/${'a'.repeat(127)}/`], problems: ['namespaces[0]: must be 1 to 128 characters'] },
    { name: '65 patterns', patterns: Array.from({ length: 65 }, (_, i) => `ns-${i}`), problems: ['namespaces: at most 64 patterns, got 65'] },
  ];

  it.each(tests)('$name', ({ patterns, problems }) => {
    const found = validateNamespacePatterns(patterns);
    expect(found).toHaveLength(problems.length);
    problems.forEach((problem, i) => (typeof problem === 'string' ? expect(found[i]).toBe(problem) : expect(found[i]).toMatch(problem)));
  });

  it('accepts every pattern it then matches with, and matches what it accepted', () => {
    for (const pattern of ['/oth.*/', '/(a+)+$/', '/[a-z0-9_-]{0,64}/']) {
      expect(validateNamespacePatterns([pattern])).toEqual([]);
      expect(namespaceMatches(pattern, 'other') || namespaceMatches(pattern, 'aaa')).toBe(true);
    }
  });
});
