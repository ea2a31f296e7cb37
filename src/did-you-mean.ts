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

/**
 * Edit distance counting a swap of two neighbouring letters as one edit (optimal string
 * alignment), since that is the commonest typo: `ecoh` is one edit from `echo`, not two.
 * Returns `limit` when the distance is `limit` or more. Words whose lengths differ by
 * `limit` or more return at once, so a long word costs nothing; the rest are short names.
 */
function editDistance(a: string, b: string, limit: number): number {
  if (Math.abs(a.length - b.length) >= limit) {
    return limit;
  }
  let before: number[] = [];
  let previous = Array.from({ length: b.length + 1 }, (_, index) => index);
  for (let row = 1; row <= a.length; row++) {
    const current = [row];
    for (let column = 1; column <= b.length; column++) {
      const cost = a[row - 1] === b[column - 1] ? 0 : 1;
      let value = Math.min(
        previous[column]! + 1,
        current[column - 1]! + 1,
        previous[column - 1]! + cost,
      );
      if (row > 1 && column > 1 && a[row - 1] === b[column - 2] && a[row - 2] === b[column - 1]) {
        value = Math.min(value, before[column - 2]! + 1);
      }
      current.push(value);
    }
    before = previous;
    previous = current;
  }
  return Math.min(previous[b.length]!, limit);
}
