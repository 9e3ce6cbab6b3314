/**
 * One sample of a broker process for the soak: RSS and open descriptors from /proc/<pid> (the
 * child alone), heap and event-loop delay from its /metrics (the nodejs_* gauges of
 * plugins/metrics/process-metrics.ts, event-loop figures covering the time since the last scrape).
 */
import { readdirSync, readFileSync } from 'node:fs';

export interface ProcessSample {
  atMs: number;
  rssMb: number;
  fds: number;
  heapUsedMb: number;
  heapTotalMb: number;
  loopP99Ms: number;
  loopMaxMs: number;
}

/** VmRSS of a process in MiB (Linux). */
export function rssMb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

export function openFds(pid: number): number {
  return readdirSync(`/proc/${pid}/fd`).length;
}

/** "Max open files" soft and hard limits of a process (Linux). */
export function fdLimits(pid: number | 'self' = 'self'): { soft: number; hard: number } {
  const line = readFileSync(`/proc/${pid}/limits`, 'utf8').split('\n').find((l) => l.startsWith('Max open files')) ?? '';
  const [soft, hard] = line.replace('Max open files', '').trim().split(/\s+/).map((v) => (v === 'unlimited' ? Infinity : Number(v)));
  return { soft, hard };
}

export async function scrapeMetrics(url: string): Promise<Map<string, number>> {
  const res = await fetch(`${url}/metrics`, { signal: AbortSignal.timeout(5000) });
  const text = await res.text();
  const values = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#') || line.includes('{')) continue;
    const [name, value] = line.split(' ');
    values.set(name, Number(value));
  }
  return values;
}

export async function sampleProcess(pid: number, httpUrl: string, startedAt: number): Promise<ProcessSample> {
  const m = await scrapeMetrics(httpUrl).catch(() => new Map<string, number>());
  const mb = (v: number | undefined) => (v === undefined ? NaN : v / 1048576);
  const ms = (v: number | undefined) => (v === undefined ? NaN : v * 1000);
  return {
    atMs: Date.now() - startedAt,
    rssMb: rssMb(pid),
    fds: openFds(pid),
    heapUsedMb: mb(m.get('nodejs_heap_size_used_bytes')),
    heapTotalMb: mb(m.get('nodejs_heap_size_total_bytes')),
    loopP99Ms: ms(m.get('nodejs_eventloop_lag_p99_seconds')),
    loopMaxMs: ms(m.get('nodejs_eventloop_lag_max_seconds')),
  };
}

/** Least-squares slope of y over x. */
export function slope(points: Array<[number, number]>): number {
  const n = points.length;
  if (n < 2) return NaN;
  const mx = points.reduce((s, [x]) => s + x, 0) / n;
  const my = points.reduce((s, [, y]) => s + y, 0) / n;
  let num = 0;
  let den = 0;
  for (const [x, y] of points) {
    num += (x - mx) * (y - my);
    den += (x - mx) ** 2;
  }
  return den === 0 ? NaN : num / den;
}
