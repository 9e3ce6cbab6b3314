/**
 * A full disk that empties again: the journal and a stream partition refuse writes while every
 * write fails, accept again once writes succeed (no restart), and after a restart hold exactly
 * what was acknowledged. Failures are injected into FileHandle.writev (data) and FileHandle.write
 * (the recovery probe); fdatasync failures under `always` separately.
 */
import assert from 'node:assert/strict';
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { readBatchHeader } from '../../core/stream/batch-header.js';
import { StreamPartition } from '../../core/stream/partition.js';
import { decodeRecords, encodeBatch } from '../../core/stream/record-codec.js';
import type { FileStore } from '../../core/storage/file-store.js';
import { StorageFailedError } from '../../core/storage/segment-writer.js';
import { ack, captureLog, enqueue, plain, POLICY, put, reopen, store, tempDir } from './helpers.js';
import { eventually } from '../support/index.js';

type Fn = (this: unknown, ...args: unknown[]) => Promise<unknown>;
const enospc = () => Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * While `full` is true every writev and write (and, if asked, datasync) of any FileHandle fails
 * with ENOSPC. `slowSyncMs` delays every datasync, as a slow disk does: segment rolls then wait
 * on the seal of the segment before, so failing writes pile up across several new segment files.
 */
async function diskFault(dir: string, methods: string[] = ['writev', 'write'], slowSyncMs = 0): Promise<{ full: boolean; failures: number; restore: () => void }> {
  const probe = await open(join(dir, 'probe-handle'), 'w');
  const proto = Object.getPrototypeOf(probe) as Record<string, Fn>;
  await probe.close();
  const saved = [...new Set([...methods, 'datasync'])].map((m) => [m, proto[m]] as const);
  const fault = {
    full: false,
    failures: 0,
    restore: () => { for (const [m, fn] of saved) proto[m] = fn; },
  };
  for (const [m, fn] of saved) {
    const faulty = methods.includes(m);
    proto[m] = async function (...args: unknown[]) {
      if (m === 'datasync' && slowSyncMs > 0) await sleep(slowSyncMs);
      if (!faulty || !fault.full) return fn.apply(this, args);
      fault.failures++;
      throw enospc();
    };
  }
  return fault;
}

/** Calls `attempt` until it resolves (the store came back), failing after 100 tries. */
async function untilAccepted<T>(attempt: () => Promise<T>): Promise<{ value: T; refusals: number }> {
  for (let refusals = 0; refusals < 100; refusals++) {
    try {
      return { value: await attempt(), refusals };
    } catch (err) {
      assert.ok(err instanceof StorageFailedError, `refused with a storage error, not ${(err as Error).message}`);
      await sleep(20);
    }
  }
  throw new Error('the store never accepted again');
}

/** Waits until the store's probe has run while still failing, so refusals seen next are not a race with it. */
async function probedWhileFull(s: FileStore, fault: { failures: number }): Promise<void> {
  const before = fault.failures;
  await eventually(() => fault.failures > before, { what: 'the probe trying to write' });
  assert.ok(s.offlineLogs > 0, 'a log is offline');
}

const producerBatch = (seq: number, values: string[]) => encodeBatch(
  values.map((v, i) => ({ timestamp: 1_700_000_000_000 + seq + i, key: null, value: Buffer.from(v), headers: [] })),
  { producerId: 7n, producerEpoch: 0, baseSequence: seq },
);

describe('storage: recovery from a full disk without a restart', () => {
  let t: ReturnType<typeof tempDir>;
  beforeEach(() => (t = tempDir('disk-full')));
  afterEach(() => t.remove());

  it('journal: refuses while full, accepts after, and a restart recovers exactly what was acknowledged', async () => {
    const log = captureLog();
    // Small segments: the refused ack must not make compaction drop message 1 after recovery.
    const s = store(t.dir, { logger: log.logger, recoveryProbeMs: 20, journalSegmentBytes: 4096 });
    await s.open();
    await s.journal([enqueue(1, [1], 'kept'.padEnd(1500, '.')), put('cfg', 'k', 'v1')]);
    await s.journal([enqueue(2, [1], 'acked-later')]);
    const fault = await diskFault(t.dir);
    try {
      fault.full = true;
      const refused = await Promise.allSettled([
        s.journal([ack(1, 1), put('cfg', 'k', 'refused')]),
        s.journal([enqueue(3, [1], 'refused-3')]),
      ]);
      assert.deepEqual(refused.map((r) => r.status), ['rejected', 'rejected']);
      await probedWhileFull(s, fault);
      await assert.rejects(s.journal([enqueue(4, [1], 'refused-4')]), StorageFailedError);
    } finally {
      fault.full = false;
      fault.restore();
    }
    await untilAccepted(() => s.journal([enqueue(5, [1], 'after')]));
    assert.equal(s.offlineLogs, 0);
    await s.journal([ack(2, 1), put('cfg', 'k', 'v2')]);
    // Enough to roll several segments, so compaction runs over the one holding message 1.
    for (let i = 0; i < 40; i++) await s.journal([put('filler', String(i % 4), 'x'.repeat(400))]);
    await s.flush();
    assert.ok(s.journalSegments[0] > 0, `compaction ran (segments ${s.journalSegments.join()})`);
    await s.close();

    const r = await reopen(t.dir);
    assert.deepEqual(r.messages.map((m) => m.message.toString().replace(/\.+$/, '')), ['kept', 'after']);
    assert.equal(plain(r.metadata).cfg.k, 'v2');
    const offline = log.warnings.filter((w) => w.startsWith('storage write failed'));
    const online = log.warnings.filter((w) => w.startsWith('storage writable again'));
    assert.equal(offline.length, 1, `one warning on failure: ${log.warnings.join(' | ')}`);
    assert.equal(online.length, 1, 'one line on recovery');
  });

  it('stream partition: idempotent producer continues at the right offset and sequence after recovery', async () => {
    const s = store(t.dir, { recoveryProbeMs: 20 });
    await s.open();
    const log = await s.openPartition('events', 0, POLICY);
    const p = new StreamPartition('events', 0, log, () => false);
    const first = p.append(producerBatch(0, ['a', 'b']));
    await first.stored;
    const fault = await diskFault(t.dir);
    try {
      fault.full = true;
      const r1 = p.append(producerBatch(2, ['c', 'd']));
      await assert.rejects(r1.stored, StorageFailedError);
      await probedWhileFull(s, fault);
      // The same batch retried while still full: refused again, not answered as a duplicate.
      const r2 = p.append(producerBatch(2, ['c', 'd']));
      assert.equal(r2.duplicate, false);
      await assert.rejects(r2.stored, StorageFailedError);
    } finally {
      fault.full = false;
      fault.restore();
    }
    const back = await untilAccepted(async () => {
      const r = p.append(producerBatch(2, ['c', 'd']));
      await r.stored;
      return r;
    });
    assert.equal(back.value.baseOffset, 2, 'continues right after the stored batch');
    assert.equal(back.value.duplicate, false);
    const next = p.append(producerBatch(4, ['e']));
    await next.stored;
    assert.equal(next.baseOffset, 4);
    const dup = p.append(producerBatch(2, ['c', 'd']));
    assert.deepEqual([dup.duplicate, dup.baseOffset], [true, 2], 'a retry of a stored batch is its duplicate');
    assert.equal(p.highWatermark, 5);
    await s.close();

    const again = store(t.dir);
    await again.open();
    const reopened = await again.openPartition('events', 0, POLICY);
    assert.equal(reopened.nextOffset, 5);
    const batches = await reopened.read(0, 1 << 20);
    const values = batches.flatMap((b) => decodeRecords(b).map((r) => r.value!.toString()));
    assert.deepEqual(values, ['a', 'b', 'c', 'd', 'e']);
    assert.deepEqual(batches.map((b) => readBatchHeader(b).baseSequence), [0, 2, 4]);
    const p2 = new StreamPartition('events', 0, reopened, () => false);
    const retry = p2.append(producerBatch(4, ['e']));
    assert.deepEqual([retry.duplicate, retry.baseOffset], [true, 4], 'producer state after the restart matches the log');
    await again.close();
  });

  it('always: a group whose fdatasync failed is refused, cut, and absent after recovery and a restart', async () => {
    const s = store(t.dir, { fsync: 'always', recoveryProbeMs: 20 });
    await s.open();
    await s.journal([enqueue(1, [1], 'stored')]);
    const log = await s.openPartition('events', 0, POLICY);
    const p = new StreamPartition('events', 0, log, () => false);
    await p.append(producerBatch(0, ['a'])).stored;
    const fault = await diskFault(t.dir, ['datasync', 'write']);
    try {
      fault.full = true;
      await assert.rejects(s.journal([enqueue(2, [1], 'refused')]), StorageFailedError);
      await assert.rejects(p.append(producerBatch(1, ['refused'])).stored, StorageFailedError);
      await probedWhileFull(s, fault);
    } finally {
      fault.full = false;
      fault.restore();
    }
    await untilAccepted(() => s.journal([enqueue(3, [1], 'after')]));
    const back = await untilAccepted(async () => {
      const r = p.append(producerBatch(1, ['b']));
      await r.stored;
      return r;
    });
    assert.equal(back.value.baseOffset, 1);
    await s.close();

    const again = store(t.dir);
    const r = await again.open();
    assert.deepEqual(r.messages.map((m) => m.message.toString()), ['stored', 'after']);
    const reopened = await again.openPartition('events', 0, POLICY);
    const values = (await reopened.read(0, 1 << 20)).flatMap((b) => decodeRecords(b).map((x) => x.value!.toString()));
    assert.deepEqual(values, ['a', 'b']);
    await again.close();
  });

  for (const slowSyncMs of [0, 40]) it(`under a stream of writes with segment rolls${slowSyncMs ? ' and a slow fdatasync' : ''}, exactly what was acknowledged survives recovery and a restart`, async () => {
    const s = store(t.dir, { recoveryProbeMs: 20, journalSegmentBytes: 2048 });
    await s.open();
    const log = await s.openPartition('events', 0, { ...POLICY, segmentBytes: 1024 });
    const p = new StreamPartition('events', 0, log, () => false);
    const fault = await diskFault(t.dir, undefined, slowSyncMs);
    const journalAcked: string[] = [];
    const streamAcked = new Map<number, string>();
    const settled: Promise<unknown>[] = [];
    let refusals = 0;
    try {
      for (let i = 0; i < 150; i++) {
        if (i === 40) fault.full = true;
        if (i === 90) fault.full = false;
        const body = `m${i}`.padEnd(120, '.');
        settled.push(s.journal([enqueue(i, [1], body)]).then(() => journalAcked.push(body), () => refusals++));
        const r = p.append(encodeBatch([{ timestamp: 1_700_000_000_000 + i, key: null, value: Buffer.from(body), headers: [] }]));
        settled.push(r.stored.then(() => streamAcked.set(r.baseOffset, body), () => refusals++));
        if (i % 5 === 4) await sleep(10);
      }
      await Promise.all(settled);
    } finally {
      fault.full = false;
      fault.restore();
    }
    assert.ok(refusals > 0, 'writes were refused while full');
    await untilAccepted(() => s.journal([enqueue(1000, [1], 'last')]));
    journalAcked.push('last');
    const last = await untilAccepted(async () => {
      const r = p.append(encodeBatch([{ timestamp: 1_700_000_001_000, key: null, value: Buffer.from('last'), headers: [] }]));
      await r.stored;
      return r;
    });
    streamAcked.set(last.value.baseOffset, 'last');
    const offsets = [...streamAcked.keys()].sort((a, b) => a - b);
    assert.deepEqual(offsets, offsets.map((_, i) => i), 'acknowledged offsets are dense from 0');
    await s.close();

    const again = store(t.dir);
    const r = await again.open();
    assert.deepEqual(r.messages.map((m) => m.message.toString()), journalAcked);
    const reopened = await again.openPartition('events', 0, { ...POLICY, segmentBytes: 1024 });
    assert.equal(reopened.nextOffset, offsets.length);
    const values: string[] = [];
    for (let off = 0; off < reopened.nextOffset;) {
      const batches = await reopened.read(off, 1 << 20);
      for (const b of batches) values.push(...decodeRecords(b).map((x) => x.value!.toString()));
      off = readBatchHeader(batches[batches.length - 1]).baseOffset + 1;
    }
    assert.deepEqual(values, offsets.map((o) => streamAcked.get(o)));
    await again.close();
  });

  it('partition: a roll whose seal failed (fdatasync) recovers: the old segment is synced, the next batch follows it', async () => {
    // A long fsync interval keeps the first segment dirty, so the seal at the roll must fdatasync it.
    const s = store(t.dir, { recoveryProbeMs: 20, fsyncIntervalMs: 60_000 });
    await s.open();
    const policy = { ...POLICY, segmentBytes: 1024 };
    const log = await s.openPartition('events', 0, policy);
    const p = new StreamPartition('events', 0, log, () => false);
    const record = (v: string) => encodeBatch([{ timestamp: 1_700_000_000_000, key: null, value: Buffer.from(v.padEnd(600, '.')), headers: [] }]);
    await p.append(record('a')).stored;
    const fault = await diskFault(t.dir, ['datasync', 'write']);
    try {
      fault.full = true;
      await assert.rejects(p.append(record('refused')).stored, StorageFailedError);
      await probedWhileFull(s, fault);
    } finally {
      fault.full = false;
      fault.restore();
    }
    const back = await untilAccepted(async () => {
      const r = p.append(record('b'));
      await r.stored;
      return r;
    });
    assert.equal(back.value.baseOffset, 1);
    await s.close();

    const again = store(t.dir);
    await again.open();
    const reopened = await again.openPartition('events', 0, policy);
    const values: string[] = [];
    for (let off = 0; off < reopened.nextOffset; off++) {
      for (const b of await reopened.read(off, 1)) values.push(decodeRecords(b)[0].value!.toString().replace(/\.+$/, ''));
    }
    assert.deepEqual(values, ['a', 'b']);
    await again.close();
  });

  it('a log closed while offline is no longer probed, and close does not hang', async () => {
    const s = store(t.dir, { recoveryProbeMs: 20 });
    await s.open();
    const fault = await diskFault(t.dir);
    try {
      fault.full = true;
      await assert.rejects(s.journal([enqueue(1, [1], 'refused')]), StorageFailedError);
      assert.equal(s.offlineLogs, 1);
      await s.close().catch(() => undefined);
      assert.equal(s.offlineLogs, 0);
    } finally {
      fault.full = false;
      fault.restore();
    }
    const r = await reopen(t.dir);
    assert.deepEqual(r.messages, []);
  });
});
