/** `1 group`, `2 groups`, `0 nodes`: a number with its noun in the right number (English, as kubectl prints). */
export function count(n: number, singular: string, plural = `${singular}s`): string {
  return `${n} ${n === 1 ? singular : plural}`;
}
