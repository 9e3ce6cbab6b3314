/**
 * The disk-full trial: a Junction node with its data directory on a small tmpfs (mounted here, so
 * it needs root), under every protocol's acknowledged load. A filler file then takes every free
 * byte; publishers should get each protocol's refusal while nothing acknowledged is lost. The
 * filler is removed ("space returns") and the load goes on: the broker should accept again without
 * a restart (the store probes every second, core/storage/storage-recovery.ts), logging once when
 * storage goes offline and once when it is back. Last, kill -9 and a restart on the same data, more
 * load, and a full read-back.
 */
import { execFileSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, rmdirSync, rmSync, statfsSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SingleNodeBroker } from './broker-under-test.js';
import { finishLoads, startLoads, trialFailures } from './fault-trial.js';
import { createLoad, type AckedLoad, type LoadName, type LoadTally } from './load/index.js';
import { textTable } from './text-table.js';

export interface DiskFullOptions {
  prefix: string;
  loads: readonly LoadName[];
  rate: number;
  window: number;
  sizeMb: number;
  /** Further `junction start` flags. */
  args?: string[];
  fullMs?: number;
  resumeMs?: number;
  log?: (line: string) => void;
}

interface Counts {
  acked: number;
  refused: number;
  failed: number;
  /** The load's last error at the end of the phase. */
  lastError?: string;
}

export interface DiskFullResult {
  skipped?: string;
  rows: LoadTally[];
  /** Per load: what happened while the disk was full, after space returned, after a restart. */
  whileFull: Map<string, Counts>;
  afterSpace: Map<string, Counts>;
  afterRestart: Map<string, Counts>;
  failures: string[];
  notes: string[];
  /** Broker log lines from the fill to the crash: storage going offline, coming back, and all lines. */
  storageLog?: { offline: number; online: number; lines: number; others: string[] };
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

function mountTmpfs(sizeMb: number): { dir: string; unmount: () => void } | string {
  if (process.getuid?.() !== 0) return 'mounting a small tmpfs needs root';
  const dir = mkdtempSync(join(tmpdir(), 'junction-diskfull-'));
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${sizeMb}m`, 'tmpfs', dir], { stdio: 'pipe' });
  } catch (err) {
    rmdirSync(dir);
    return `mount -t tmpfs failed: ${(err as Error).message.split('\n')[0]}`;
  }
  return {
    dir,
    unmount: () => {
      execFileSync('umount', ['-l', dir], { stdio: 'pipe' });
      rmdirSync(dir);
    },
  };
}

/** Writes zeros to `path` until the filesystem says ENOSPC; returns the bytes written. */
function fillUp(path: string): number {
  const fd = openSync(path, 'w');
  const chunk = Buffer.alloc(64 * 1024);
  let written = 0;
  try {
    for (let size = chunk.length; size >= 512; ) {
      try {
        written += writeSync(fd, chunk, 0, size);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err;
        size /= 2;
      }
    }
  } finally {
    closeSync(fd);
  }
  return written;
}

function snapshot(loads: AckedLoad[]): Map<string, Counts> {
  return new Map(loads.map((l) => [l.name, { acked: l.acknowledged.size, refused: l.refused, failed: l.failed, lastError: l.lastError }]));
}

function delta(after: Map<string, Counts>, before: Map<string, Counts>): Map<string, Counts> {
  return new Map([...after].map(([k, a]) => {
    const b = before.get(k)!;
    return [k, { acked: a.acked - b.acked, refused: a.refused - b.refused, failed: a.failed - b.failed, lastError: a.lastError }];
  }));
}

export async function runDiskFullTrial(o: DiskFullOptions): Promise<DiskFullResult> {
  const log = o.log ?? (() => undefined);
  const empty = new Map<string, Counts>();
  const mounted = mountTmpfs(o.sizeMb);
  if (typeof mounted === 'string') return { skipped: mounted, rows: [], whileFull: empty, afterSpace: empty, afterRestart: empty, failures: [], notes: [] };
  const storageLog = { offline: 0, online: 0, lines: 0, others: [] as string[] };
  let counting = false;
  const onLine = (line: string): void => {
    if (!counting) return;
    storageLog.lines++;
    if (line.includes('refusing writes until the data directory takes writes again')) storageLog.offline++;
    else if (line.includes('storage writable again')) storageLog.online++;
    else if (storageLog.others.length < 3) storageLog.others.push(line.slice(0, 300));
  };
  const broker = new SingleNodeBroker({ dataDir: join(mounted.dir, 'data'), args: o.args, onLine });
  const filler = join(mounted.dir, 'filler');
  const notes: string[] = [];
  const failures: string[] = [];
  try {
    await broker.start();
    const loads = await startLoads(o.loads, (name) => createLoad(name, {
      prefix: o.prefix, endpoints: broker.endpoints, rate: o.rate, window: o.window, sendTimeoutMs: 5000, clientRetries: 2,
    }));
    await sleep(2000);
    counting = true;
    const filled = fillUp(filler);
    log(`disk full: filler of ${(filled / 1048576).toFixed(1)} MiB, ${statfsSync(mounted.dir).bavail} blocks left`);
    const s0 = snapshot(loads);
    await sleep(o.fullMs ?? 8000);
    const s1 = snapshot(loads);
    if (!broker.running) failures.push('the broker exited while the disk was full');
    rmSync(filler);
    log('space returned (filler removed)');
    await sleep(o.resumeMs ?? 8000);
    const s2 = snapshot(loads);
    if (!broker.running) failures.push('the broker exited after space returned');
    counting = false;
    notes.push(`broker log while full and after: ${storageLog.offline} "storage write failed: refusing writes", ${storageLog.online} "storage writable again", ${storageLog.lines} lines in all`);
    for (const line of storageLog.others) notes.push(`other broker log line: ${line}`);
    if (storageLog.offline > 0 && storageLog.online === 0) failures.push('storage went offline and never logged that it was back');
    log(`${await broker.crash()}, then restart on the same data`);
    await broker.recover();
    await sleep(o.resumeMs ?? 8000);
    const s3 = snapshot(loads);
    const rows = await finishLoads(loads, 30000);
    const whileFull = delta(s1, s0);
    const afterSpace = delta(s2, s1);
    const afterRestart = delta(s3, s2);
    failures.push(...trialFailures(rows));
    for (const r of rows) {
      const full = whileFull.get(r.name)!;
      if (full.refused > 0) notes.push(`${r.name}: refused while full with: ${full.lastError}`);
      if (full.refused === 0) notes.push(`${r.name}: no refusal while the disk was full (acknowledged ${full.acked}, failed/timed out ${full.failed})`);
      const space = afterSpace.get(r.name)!;
      const restart = afterRestart.get(r.name)!;
      if (space.acked === 0) failures.push(`${r.name}: nothing acknowledged in ${(o.resumeMs ?? 8000) / 1000} s after space returned (no restart; last error: ${space.lastError})`);
      if (restart.acked === 0) failures.push(`${r.name}: nothing acknowledged after the restart (last error: ${restart.lastError})`);
    }
    return { rows, whileFull, afterSpace, afterRestart, failures, notes, storageLog };
  } catch (err) {
    throw new Error(`${(err as Error).message}\nbroker output (tail):\n${broker.output().slice(-4000)}`);
  } finally {
    await broker.stop().catch(() => undefined);
    mounted.unmount();
  }
}

export function diskFullTable(r: DiskFullResult): string {
  const head = ['protocol', 'full: acked', 'full: refused', 'full: failed', 'space back: acked', 'restart: acked', 'acknowledged', 'received', 'lost', 'result'];
  const rows = r.rows.map((t) => {
    const f = r.whileFull.get(t.name)!;
    const ok = t.lost === 0 && !(t.exactlyOnce && t.duplicated > 0) && r.afterSpace.get(t.name)!.acked > 0;
    return [t.name, f.acked, f.refused, f.failed, r.afterSpace.get(t.name)!.acked, r.afterRestart.get(t.name)!.acked, t.acknowledged, t.received, t.lost, ok ? 'ok' : 'FAIL'];
  });
  return textTable([head, ...rows]);
}
