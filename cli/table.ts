/** Left-aligned columns as Kafka's tools print them with `%-Ns` formats. */

export function pad(s: string, width: number): string {
  return s.length >= width ? s : s + ' '.repeat(width - s.length);
}

/** `widths[i]` pads column i (the last column is not padded when its width is 0). */
export function row(cells: string[], widths: number[]): string {
  return cells.map((c, i) => (widths[i] ? pad(c, widths[i]) : c)).join(' ');
}
