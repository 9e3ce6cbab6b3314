/** What the benches read from a Junction node in a child process: /proc figures, /metrics values, start time. */
import { readFileSync } from 'node:fs';
import type { JunctionNode } from '../scripts/lib/junction-node.js';

/** A process's peak (VmHWM) or current (VmRSS) resident memory, in MiB. */
export function procStatus(pid: number, field: 'VmHWM' | 'VmRSS'): number {
  const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

/** An unlabelled value from the node's /metrics, NaN when absent. */
export async function metric(port: number, name: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  return line ? Number(line.slice(line.indexOf(' ') + 1)) : NaN;
}

/** Starts the node and returns how long until /readyz answered. */
export async function timedStart(node: JunctionNode): Promise<number> {
  const t0 = performance.now();
  await node.start();
  return performance.now() - t0;
}
