/**
 * In-process figures for a deep queue's paged runs (core/paged-run.ts, core/ready-entries.ts):
 * bytes a message of the runs' columns and of array buffers after a full GC, for 1 M entries of a
 * few shapes, recovered (pushPaged) and packed (push, pack); and the time of shift, removeSeq and
 * of freezing a run, frozen against open. BENCH_RUNS_N sets the number of entries.
 */
import { pathToFileURL } from 'node:url';
import v8 from 'node:v8';
import vm from 'node:vm';
import { PagedRun } from '../core/paged-run.js';
import type { QueueEntry } from '../core/queue-types.js';
import { ReadyEntries } from '../core/ready-entries.js';

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;
const N = Number(process.env.BENCH_RUNS_N ?? 1_000_000);
const NOW = 1_790_000_000_000;

interface Shape { name: string; seq: (i: number) => number; size: (i: number) => number; expiry?: (i: number) => number }

/** A seeded generator, so that runs compare. */
function random(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

function shapes(): Shape[] {
  const r = random(7);
  const jitter = Array.from({ length: N }, () => Math.floor(r() * 21));
  let at = 0;
  const gaps = Array.from({ length: N }, () => (at += 1 + Math.floor(r() * 20)));
  return [
    { name: 'in a row, one size (160)', seq: (i) => i + 1, size: () => 160 },
    { name: 'in a row, sizes 150-170', seq: (i) => i + 1, size: (i) => 150 + jitter[i] },
    { name: '10 queues in turn (seq step 10)', seq: (i) => 1 + i * 10, size: () => 160 },
    { name: 'seqs spread at random (gap 1-20)', seq: (i) => gaps[i], size: () => 160 },
    { name: 'in a row, per-queue TTL (expiry rising)', seq: (i) => i + 1, size: () => 160, expiry: (i) => NOW + 60_000 + Math.floor(i / 50) },
  ];
}

function fill(shape: Shape, recovered: boolean): ReadyEntries {
  const q = new ReadyEntries(true);
  if (recovered) {
    q.expectPaged(N);
    for (let i = 0; i < N; i++) q.pushPaged(shape.seq(i), shape.size(i), undefined, shape.expiry?.(i));
    q.trimPaged();
    return q;
  }
  for (let i = 0; i < N; i++) {
    q.push({
      seq: shape.seq(i), message: undefined, priority: undefined, expiry: shape.expiry?.(i), pageable: true,
      deliveryCount: 0, redelivered: false, persisted: true, size: shape.size(i),
    });
    if (i % 4096 === 4095) q.pack();
  }
  q.pack();
  return q;
}

/** V8 heap and array buffers in use after full GCs (array buffers are freed a little after). */
async function used(): Promise<number> {
  for (let k = 0; k < 3; k++) {
    gc();
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
}

async function bytes(): Promise<void> {
  console.log(`bytes a message, ${N.toLocaleString('en')} entries: runs' columns / V8 heap and array buffers after a full GC (all the queue holds):`);
  let q: ReadyEntries | null = null;
  for (const shape of shapes()) {
    for (const recovered of [true, false]) {
      q = null;
      const before = await used();
      q = fill(shape, recovered);
      const held = await used() - before;
      const objects = q.length - q.packed;
      console.log(`  ${shape.name}, ${recovered ? 'recovered' : 'packed'}: ${(q.packedBytes / N).toFixed(3)} / ${(held / N).toFixed(3)}${objects ? ` (${objects} left objects)` : ''}`);
    }
  }
}

function ns(start: bigint, n: number): string {
  return (Number(process.hrtime.bigint() - start) / n).toFixed(0);
}

/** One run of 65,536 entries in a row, open or frozen. */
function run(frozen: boolean): PagedRun {
  const r = new PagedRun(1, undefined, 65536);
  for (let i = 0; i < 65536; i++) r.add(1 + i, 160, undefined);
  if (frozen) r.freeze();
  return r;
}

function times(): void {
  const rounds = Math.max(1, Math.round(N / 65536));
  const open = Array.from({ length: rounds }, () => run(false));
  let t = process.hrtime.bigint();
  for (const r of open) r.freeze();
  console.log(`freezing a run of 65,536 in a row: ${(Number(process.hrtime.bigint() - t) / rounds / 1e6).toFixed(2)} ms`);
  for (const frozen of [false, true]) {
    const runs = Array.from({ length: rounds }, () => run(frozen));
    t = process.hrtime.bigint();
    for (const r of runs) while (r.shift());
    const shift = ns(t, rounds * 65536);
    const r = random(3);
    const more = Array.from({ length: rounds }, () => run(frozen));
    const removals = 200_000;
    t = process.hrtime.bigint();
    for (let k = 0; k < removals; k++) more[k % rounds].remove(1 + Math.floor(r() * 65536));
    const remove = ns(t, removals);
    t = process.hrtime.bigint();
    const out: QueueEntry[] = [];
    for (let k = 0; k < removals / 10; k++) more[k % rounds].entriesFrom(Math.floor(r() * 30_000), 1, out);
    console.log(`${frozen ? 'frozen' : 'open'} run: shift ${shift} ns, remove ${remove} ns, entriesFrom (holes in it) ${ns(t, removals / 10)} ns`);
  }
  const q = fill(shapes()[0], true);
  const r = random(5);
  t = process.hrtime.bigint();
  const removals = 100_000;
  for (let k = 0; k < removals; k++) q.removeSeq(1 + Math.floor(r() * N));
  console.log(`ReadyEntries.removeSeq, ${N.toLocaleString('en')} entries (frozen runs but the newest): ${ns(t, removals)} ns`);
  t = process.hrtime.bigint();
  let n = 0;
  while (q.shift()) n++;
  console.log(`ReadyEntries.shift draining them: ${ns(t, n)} ns`);
}

export async function runPagedRunsBench(): Promise<void> {
  await bytes();
  times();
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) await runPagedRunsBench();
