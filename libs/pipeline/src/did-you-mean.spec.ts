import { describe, expect, it } from 'vitest';
import { closestMatch, SuggestionBudget } from './did-you-mean.js';

const taskFields = ['id', 'description', 'image', 'command', 'depends_on', 'registry_auth', 'inject_api_token', 'cpu'];

describe('closestMatch', () => {
  it.each([
    ['imag', 'image'],
    ['iamge', 'image'],
    ['comand', 'command'],
    ['dependsOn', 'depends_on'],
    ['depends-on', 'depends_on'],
    ['registryAuth', 'registry_auth'],
    ['inject_api_tokens', 'inject_api_token'],
    ['descripton', 'description'],
  ])('%s → %s', (word, match) => {
    expect(closestMatch(word, taskFields)).toBe(match);
  });

  it.each([['gpu'], ['d'], ['colour'], ['environment']])('no guess for %s', (word) => {
    expect(closestMatch(word, taskFields)).toBeUndefined();
  });

  it('prefers the closest candidate, then the first listed', () => {
    expect(closestMatch('buidl', ['guild', 'build'])).toBe('build');
    expect(closestMatch('abcdx', ['abcde', 'abcdf'])).toBe('abcde');
  });

  it('makes no guess for words longer than any id', () => {
    const long = 'x'.repeat(65);
    expect(closestMatch(long, [`${long}y`])).toBeUndefined();
    expect(closestMatch(long.slice(1), [`${long.slice(1)}y`])).toBe(`${long.slice(1)}y`);
  });

  it('agrees with the full optimal-string-alignment table on random words', () => {
    // A seeded generator over a small alphabet, so that near misses are common.
    let seed = 42;
    const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    const word = () => Array.from({ length: 3 + Math.floor(random() * 8) }, () => 'abc'[Math.floor(random() * 3)]).join('');
    for (let round = 0; round < 2000; round++) {
      const candidates = Array.from({ length: 5 }, word);
      const target = word();
      expect(closestMatch(target, candidates), `${target} in ${candidates.join(',')}`).toBe(referenceClosestMatch(target, candidates));
    }
  });
});

describe('SuggestionBudget', () => {
  const ids = Array.from({ length: 500 }, (_, i) => `task-${String(i).padStart(3, '0')}`);

  it('counts one comparison per candidate looked at', () => {
    const budget = new SuggestionBudget(10_000);
    expect(closestMatch('tsak-007', ids, budget)).toBe('task-007');
    expect(closestMatch('imag', ['id', 'image'], budget)).toBe('image');
    expect(budget.comparisons).toBe(502);
  });

  it('bounds the comparisons of any number of guesses, skipping those it cannot pay for in full', () => {
    const budget = new SuggestionBudget(10_000);
    const guesses = Array.from({ length: 10_000 }, (_, i) => closestMatch(`tsak-${String(i % 500).padStart(3, '0')}`, ids, budget));
    expect(budget.comparisons).toBe(10_000);
    expect(guesses.filter((guess) => guess !== undefined)).toHaveLength(20);
    expect(guesses.slice(0, 20).every((guess, i) => guess === ids[i])).toBe(true);
    // Smaller candidate lists can still be paid for, after a larger one could not.
    const small = new SuggestionBudget(600);
    expect(closestMatch('tsak-001', ids, small)).toBe('task-001');
    expect(closestMatch('tsak-002', ids, small)).toBeUndefined();
    expect(closestMatch('imag', ['image'], small)).toBe('image');
    expect(small.comparisons).toBe(501);
  });
});

/** The unbounded table, as the guesses were made before the work was bounded. */
function referenceClosestMatch(word: string, candidates: readonly string[]): string | undefined {
  const normalise = (w: string) => w.toLowerCase().replace(/[_-]/g, '');
  const distance = (a: string, b: string): number => {
    const d = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
    for (let i = 1; i <= a.length; i++) {
      for (let j = 1; j <= b.length; j++) {
        d[i]![j] = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
        if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d[i]![j] = Math.min(d[i]![j]!, d[i - 2]![j - 2]! + 1);
      }
    }
    return d[a.length]![b.length]!;
  };
  const normalised = normalise(word);
  const limit = normalised.length < 4 ? 0 : normalised.length < 6 ? 1 : 2;
  let best: string | undefined;
  let bestDistance = limit + 1;
  for (const candidate of candidates) {
    if (candidate === word) continue;
    const d = distance(normalised, normalise(candidate));
    if (d === 0) return candidate;
    if (d <= limit && d < bestDistance) {
      best = candidate;
      bestDistance = d;
    }
  }
  return best;
}
