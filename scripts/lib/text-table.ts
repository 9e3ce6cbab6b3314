/** Plain-text tables for the scripts' terminal output: columns padded, numbers right-aligned. */
export function textTable(rows: Array<Array<string | number>>): string {
  const cells = rows.map((r) => r.map(String));
  const widths = cells[0].map((_, c) => Math.max(...cells.map((r) => (r[c] ?? '').length)));
  const numeric = cells[0].map((_, c) => cells.slice(1).every((r) => /^-?[\d.,]+%?$|^$/.test(r[c] ?? '')));
  return cells
    .map((r) => r.map((cell, c) => (numeric[c] ? cell.padStart(widths[c]) : cell.padEnd(widths[c]))).join('  ').trimEnd())
    .join('\n');
}
