import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { appendMany, batchAt, enqueue, POLICY, put, reopen, store, tempDir } from './helpers.js';
import { eventually } from '../support/index.js';

type Proto = { datasync: () => Promise<void> };
const wait = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Counts fdatasync calls on every FileHandle while `fn` runs. */
async function countSyncs(dir: string, fn: (syncs: () => number) => Promise<void>): Promise<number> {
  const probe = await open(join(dir, 'probe'), 'w');
  const proto = Object.getPrototypeOf(probe) as Proto;
  await probe.close();
  const original = proto.datasync;
  let n = 0;
  proto.datasync = function (this: unknown) { n++; return original.apply(this); };
  try {
    await fn(() => n);
  } finally {
    proto.datasync = original;
  }
  return n;
}

describe('storage/file store', () => {
  let t: ReturnType<typeof tempDir>;
  beforeEach(() => (t = tempDir('filestore')));
  afterEach(() => t.remove());

  it('fsync always: each write is fdatasynced before its promise resolves', async () => {
    const s = store(t.dir, { fsync: 'always' });
    await s.open();
    const p = await s.openPartition('s', 0, POLICY);
    await countSyncs(t.dir, async (syncs) => {
      await s.journal([put('a', 'b', 'c')]);
      assert.ok(syncs() >= 1);
      const before = syncs();
      const { batch, info } = batchAt(0, 3);
      await p.append(batch, info);
      assert.ok(syncs() > before);
    });
    await s.close();
  });

  it('fsync interval: writes resolve once written; one shared timer fsyncs the journal and every partition', async () => {
    // The timer stops itself when idle and restarts on the next write: count timers alive at once.
    const realSetInterval = globalThis.setInterval;
    const realClearInterval = globalThis.clearInterval;
    const alive = new Set<unknown>();
    let mostAlive = 0;
    globalThis.setInterval = ((fn: () => void, ms?: number) => {
      const timer = realSetInterval(fn, ms);
      alive.add(timer);
      mostAlive = Math.max(mostAlive, alive.size);
      return timer;
    }) as typeof setInterval;
    globalThis.clearInterval = ((timer: NodeJS.Timeout) => {
      alive.delete(timer);
      realClearInterval(timer);
    }) as typeof clearInterval;
    const s = store(t.dir, { fsync: 'interval', fsyncIntervalMs: 20 });
    try {
      await s.open();
      const parts = await Promise.all(Array.from({ length: 50 }, (_, i) => s.openPartition('many', i, POLICY)));
      const syncs = await countSyncs(t.dir, async (count) => {
        await Promise.all([s.journal([enqueue(1, [1])]), ...parts.map((p) => appendMany(p, 2, 2))]);
        await eventually(() => count() >= 51);
      });
      assert.ok(syncs >= 51, `the timer synced ${syncs} files`);
      assert.equal(mostAlive, 1, 'one timer for the whole store');
    } finally {
      globalThis.setInterval = realSetInterval;
      globalThis.clearInterval = realClearInterval;
      await s.close();
    }
  });

  it('fsync interval: promises resolve without waiting for an fdatasync', async () => {
    const s = store(t.dir, { fsync: 'interval', fsyncIntervalMs: 60_000 });
    await s.open();
    const p = await s.openPartition('s', 0, POLICY);
    const syncs = await countSyncs(t.dir, async () => {
      await Promise.all([s.journal([enqueue(1, [1])]), appendMany(p, 5, 2)]);
    });
    assert.equal(syncs, 0);
    await s.close();
  });

  it('fsync never: no fdatasync while writing; flush() forces one', async () => {
    const s = store(t.dir, { fsync: 'never', fsyncIntervalMs: 5 });
    await s.open();
    const p = await s.openPartition('s', 0, { ...POLICY, segmentBytes: 2048 });
    await countSyncs(t.dir, async (syncs) => {
      for (let i = 0; i < 20; i++) await s.journal([put('n', `k${i}`, 'v')]);
      await appendMany(p, 30, 3, { size: 50 }); // rolls segments
      await wait(30);
      assert.equal(syncs(), 0);
      await s.flush();
      assert.ok(syncs() >= 2, 'journal and partition segments synced by flush');
    });
    await s.close();
    const r = await reopen(t.dir);
    assert.equal(r.metadata.get('n')!.size, 20);
  });

  it('counts journal and partition bytes as pending until they are written', async () => {
    const s = store(t.dir);
    await s.open();
    const p = await s.openPartition('s', 0, POLICY);
    assert.equal(s.pendingBytes, 0);
    const j = s.journal([enqueue(1, [1], 'x'.repeat(1000))]);
    const { batch, info } = batchAt(0, 10, { size: 500 });
    const a = p.append(batch, info);
    assert.ok(s.pendingBytes >= 1000 + batch.length);
    await Promise.all([j, a]);
    assert.equal(s.pendingBytes, 0);
    await s.close();
  });

  it('returns the same partition for repeated opens and keeps the newest policy', async () => {
    const s = store(t.dir);
    await s.open();
    const [a, b] = await Promise.all([s.openPartition('s', 0, POLICY), s.openPartition('s', 0, { ...POLICY, segmentBytes: 512 })]);
    assert.equal(a, b);
    await appendMany(a, 10, 5, { size: 40 });
    await s.close();
    await assert.rejects(s.openPartition('s', -1, POLICY));
  });

  it('refuses a data directory held by another live process, and takes over a stale lock', async () => {
    const holder = spawn(process.execPath, ['-e', 'console.log("up"); setTimeout(() => {}, 60000)'], { stdio: ['ignore', 'pipe', 'ignore'] });
    try {
      await new Promise((resolve) => holder.stdout.once('data', resolve)); // running node, not still forking
      writeFileSync(join(t.dir, 'LOCK'), `${holder.pid}\n`);
      await assert.rejects(store(t.dir).open(), /in use by process/);
    } finally {
      holder.kill('SIGKILL');
      await new Promise((r) => holder.on('close', r));
    }
    const r = await reopen(t.dir); // the holder is dead: its LOCK is stale
    assert.equal(r.messages.length, 0);
  });
});
