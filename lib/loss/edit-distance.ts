import { ShapeError } from '../mat/errors.js';
// Levenshtein distance over label sequences and the label error rate built on it.

/**
 * The least number of insertions, deletions and substitutions turning `a` into `b`.
 * Two rows of the dynamic programme: d[i][j] = min(d[i-1][j] + 1, d[i][j-1] + 1,
 * d[i-1][j-1] + (a[i-1] != b[j-1])). O(|a| |b|) time, O(|b|) memory.
 */
export function editDistance(a: ArrayLike<number>, b: ArrayLike<number>): number {
  const m = a.length;
  const n = b.length;
  if (m === 0) return n;
  if (n === 0) return m;
  let prev = new Int32Array(n + 1);
  let cur = new Int32Array(n + 1);
  for (let j = 0; j <= n; j++) prev[j] = j;
  for (let i = 1; i <= m; i++) {
    cur[0] = i;
    const ai = a[i - 1];
    for (let j = 1; j <= n; j++) {
      const substitute = prev[j - 1] + (ai === b[j - 1] ? 0 : 1);
      const remove = prev[j] + 1;
      const insert = cur[j - 1] + 1;
      cur[j] = substitute < remove ? (substitute < insert ? substitute : insert) : (remove < insert ? remove : insert);
    }
    const swap = prev;
    prev = cur;
    cur = swap;
  }
  return prev[n];
}

/**
 * Label error rate: total edit distance between each prediction and its target, divided by
 * the total target length. With no target labels at all it is 0 when every prediction is
 * empty too, otherwise Infinity.
 */
export function labelErrorRate(
  predictions: readonly ArrayLike<number>[], targets: readonly ArrayLike<number>[],
): number {
  if (predictions.length !== targets.length) {
    throw new ShapeError('labelErrorRate', `${predictions.length} predictions for ${targets.length} targets`, { predictions: predictions.length, targets: targets.length });
  }
  let edits = 0;
  let length = 0;
  for (let i = 0; i < targets.length; i++) {
    edits += editDistance(predictions[i], targets[i]);
    length += targets[i].length;
  }
  if (length === 0) return edits === 0 ? 0 : Infinity;
  return edits / length;
}
