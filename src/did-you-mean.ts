/**
 * The one "did you mean ...?" guess, for every place a name can be mistyped: CLI
 * commands and flags, built-in handler names, library option names. One helper, so
 * every message guesses the same way. It lives at the top of src/ (not in cli/) because
 * the server and options layers use it too, and nothing may import cli/.
 */

/**
 * The candidate closest to `word` by edit distance, when it is close enough to be
 * a likely typo (at most 2 edits, and fewer than half the word's length).
 */
export function didYouMean(word: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Math.min(3, Math.ceil(word.length / 2));
  for (const candidate of candidates) {
    const distance = editDistance(word, candidate, bestDistance);
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  return best;
}

/** Levenshtein distance, giving up (returning `limit`) once it must reach `limit`. */
function editDistance(a: string, b: string, limit: number): number {
  if (Math.abs(a.length - b.length) >= limit) {
    return limit;
  }
  let previous = Array.from({ length: b.length + 1 }, (_, index) => index);
  for (let row = 1; row <= a.length; row++) {
    const current = [row];
    let rowMin = row;
    for (let column = 1; column <= b.length; column++) {
      const cost = a[row - 1] === b[column - 1] ? 0 : 1;
      const value = Math.min(
        previous[column]! + 1,
        current[column - 1]! + 1,
        previous[column - 1]! + cost,
      );
      current.push(value);
      rowMin = Math.min(rowMin, value);
    }
    if (rowMin >= limit) {
      return limit;
    }
    previous = current;
  }
  return Math.min(previous[b.length]!, limit);
}
