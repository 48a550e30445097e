/**
 * Longest word a guess is made for: longer ones (task ids are at most 64 characters) are no typo of
 * anything, and skipping them bounds the work of one comparison.
 */
const MAX_WORD_LENGTH = 64;

/**
 * Bounds the work of the guesses made for one document: looking at a candidate costs one
 * comparison, and a guess is only made when every candidate for it can be looked at, so a guess
 * never comes from a partial search. Without a budget, every guess is made.
 */
export class SuggestionBudget {
  /** Comparisons spent so far. */
  comparisons = 0;

  constructor(readonly maxComparisons: number) {}

  /** Spends `count` comparisons if that many are left; otherwise spends none. */
  take(count: number): boolean {
    if (this.comparisons + count > this.maxComparisons) return false;
    this.comparisons += count;
    return true;
  }
}

/**
 * The candidate a misspelt word was most likely meant to be, or `undefined` when none is close.
 * Ignores case, `_` and `-` (so `dependsOn` finds `depends_on`), then allows one edit in words of
 * 4 or 5 letters and two in longer ones, counting a swap of neighbours as one edit (`buidl` finds
 * `build`). Shorter words get no guesses: `gpu` is one edit from `cpu` but surely not meant as it.
 * Neither do words over 64 characters, nor words whose candidates the `budget` cannot pay for.
 */
export function closestMatch(
  word: string,
  candidates: readonly string[],
  budget?: SuggestionBudget,
): string | undefined {
  if (word.length > MAX_WORD_LENGTH) return undefined;
  if (budget !== undefined && !budget.take(candidates.length)) return undefined;
  const normalised = normalise(word);
  let best: string | undefined;
  let bestDistance = normalised.length < 4 ? 0 : normalised.length < 6 ? 1 : 2;
  for (const candidate of candidates) {
    if (candidate === word) continue;
    const distance = editDistance(normalised, normalise(candidate), bestDistance);
    if (distance === 0) return candidate;
    if (distance < bestDistance || (distance === bestDistance && best === undefined)) {
      best = candidate;
      bestDistance = distance;
    }
  }
  return best;
}

/** ` (did you mean "x"?)` when a close candidate exists, else an empty string. */
export function didYouMean(word: string, candidates: readonly string[], budget?: SuggestionBudget): string {
  const match = closestMatch(word, candidates, budget);
  return match === undefined ? '' : ` (did you mean "${match}"?)`;
}

function normalise(word: string): string {
  return word.toLowerCase().replace(/[_-]/g, '');
}

/**
 * Optimal-string-alignment distance, giving up (returning `limit + 1`) once it exceeds `limit`.
 * Only cells within `limit` of the diagonal are computed (any other alignment costs more than
 * `limit`), so the work is `a.length × (2 × limit + 1)` at most.
 */
function editDistance(a: string, b: string, limit: number): number {
  const over = limit + 1;
  if (Math.abs(a.length - b.length) > limit) return over;
  // Rows i-2, i-1 and i of the table; cells just outside the band are set to `over`.
  let beforePrevious: number[] = [];
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const from = Math.max(1, i - limit);
    const to = Math.min(b.length, i + limit);
    const current: number[] = new Array<number>(b.length + 1);
    current[from - 1] = from === 1 ? i : over;
    let rowMin = over;
    for (let j = from; j <= to; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let value = Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) {
        value = Math.min(value, beforePrevious[j - 2]! + 1);
      }
      current[j] = value;
      rowMin = Math.min(rowMin, value);
    }
    if (to < b.length) current[to + 1] = over;
    if (rowMin > limit) return over;
    beforePrevious = previous;
    previous = current;
  }
  return Math.min(previous[b.length]!, over);
}
