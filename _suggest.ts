// Copyright 2026 the @metal-compute/kernels authors. MIT license.
/**
 * "Did you mean" hints for unknown kernel names (private).
 *
 * @module
 */

/**
 * The candidates nearest to `name` (edit distance, with substring matches first), at most
 * `limit`, for "did you mean" hints.
 *
 * @param name The unknown name.
 * @param candidates The known names.
 * @param limit How many to return at most.
 * @returns The nearest candidates, best first.
 */
export function nearestNames(name: string, candidates: Iterable<string>, limit = 3): string[] {
  const budget = Math.max(2, Math.floor(name.length / 3));
  const scored: [number, string][] = [];
  for (const candidate of candidates) {
    const distance = editDistance(name, candidate);
    const related = candidate.includes(name) || name.includes(candidate);
    if (distance <= budget || related) {
      scored.push([related ? distance - 100 : distance, candidate]);
    }
  }
  scored.sort((a, b) => a[0] - b[0] || a[1].localeCompare(b[1]));
  return scored.slice(0, limit).map(([, candidate]) => candidate);
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const substitution = previous[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1);
      current.push(Math.min(previous[j] + 1, current[j - 1] + 1, substitution));
    }
    previous = current;
  }
  return previous[b.length];
}
