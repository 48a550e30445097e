/**
 * The candidate a misspelt word was most likely meant to be, or `undefined` when none is close.
 * Ignores case, `_` and `-` (so `dependsOn` finds `depends_on`), then allows one edit in words of
 * 4 or 5 letters and two in longer ones, counting a swap of neighbours as one edit (`buidl` finds
 * `build`). Shorter words get no guesses: `gpu` is one edit from `cpu` but surely not meant as it.
 */
export function closestMatch(word: string, candidates: Iterable<string>): string | undefined {
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
export function didYouMean(word: string, candidates: Iterable<string>): string {
  const match = closestMatch(word, candidates);
  return match === undefined ? '' : ` (did you mean "${match}"?)`;
}

function normalise(word: string): string {
  return word.toLowerCase().replace(/[_-]/g, '');
}

/** Optimal-string-alignment distance, giving up (returning `limit + 1`) once it exceeds `limit`. */
function editDistance(a: string, b: string, limit: number): number {
  if (Math.abs(a.length - b.length) > limit) return limit + 1;
  let beforePrevious: number[] = [];
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    let rowMin = i;
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let value = Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) {
        value = Math.min(value, beforePrevious[j - 2]! + 1);
      }
      current.push(value);
      rowMin = Math.min(rowMin, value);
    }
    if (rowMin > limit) return limit + 1;
    beforePrevious = previous;
    previous = current;
  }
  return previous[b.length]!;
}
