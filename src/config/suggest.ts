/** "did you mean" for unknown names in settings.ini and rules.yaml. */

/** Levenshtein distance (names are short: a quadratic table is fine). */
export function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    previous = current;
  }
  return previous[b.length]!;
}

/**
 * `; did you mean "x"?` for the closest allowed name, or '' when nothing is close (a suggestion
 * for an unrelated word would mislead more than it helps).
 */
export function suggest(word: string, allowed: readonly string[]): string {
  const w = word.toLowerCase().slice(0, 100);
  let best: { name: string; d: number } | undefined;
  for (const name of allowed) {
    const d = editDistance(w, name.toLowerCase());
    if (best === undefined || d < best.d) best = { name, d };
  }
  if (best === undefined || best.name === word) return '';
  // Short words tolerate one typo, longer ones up to three ("concurency", "drain_timeout_second").
  const tolerance = Math.max(1, Math.min(3, Math.floor(w.length / 4)));
  return best.d <= tolerance ? `; did you mean "${best.name}"?` : '';
}
