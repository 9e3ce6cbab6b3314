/** The per-target table and the findings (with their inputs in hex, for regression tests). */
import type { TargetReport } from './engine.js';

export function formatReports(reports: TargetReport[], header: boolean): string {
  const lines: string[] = [];
  if (header) lines.push(['target'.padEnd(16), 'inputs'.padStart(9), 'inputs/s'.padStart(9), 'crashes'.padStart(8), 'hangs'.padStart(6), 'peak RSS'.padStart(9), 'corpus'.padStart(7)].join(' '));
  for (const r of reports) {
    lines.push([r.target.padEnd(16), String(r.inputs).padStart(9), String(Math.round(r.inputs / Math.max(r.seconds, 1e-3))).padStart(9),
      String(r.crashes).padStart(8), String(r.hangs).padStart(6), `${r.peakRssMiB} MiB`.padStart(9), String(r.corpus).padStart(7)].join(' '));
    if (!header) {
      for (const f of r.findings) {
        const hex = f.hex.length > 4096 ? `${f.hex.slice(0, 4096)}... (${f.hex.length / 2} bytes)` : f.hex;
        lines.push(`  ${f.kind} x${f.count}: ${f.error}\n    input: ${hex}`);
      }
    }
  }
  return lines.join('\n');
}
