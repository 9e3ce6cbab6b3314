import assert from 'node:assert/strict';
import { copyFileSync, existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { JournalEntry } from '../../core/store.js';
import { ack, reopen, del, enqueue, plain, put, store, tempDir } from './helpers.js';

const SEG = 16 * 1024;
const segFiles = (dir: string) => readdirSync(join(dir, 'journal')).filter((f) => f.endsWith('.seg')).sort();
const journalBytes = (dir: string) => segFiles(dir).reduce((n, f) => n + statSync(join(dir, 'journal', f)).size, 0);
const tick = (ms = 0) => new Promise<void>((r) => setTimeout(r, ms));

/** Compaction runs in the background after a roll: wait until it has nothing left to do. */
async function settle(s: { journalSegments: number[]; flush(): Promise<void> }): Promise<void> {
  let last = '';
  for (let i = 0; i < 100; i++) {
    await s.flush();
    await tick(5);
    const now = s.journalSegments.join();
    if (now === last) return;
    last = now;
  }
}

describe('storage/journal compaction', () => {
  let t: ReturnType<typeof tempDir>;
  beforeEach(() => (t = tempDir('compaction')));
  afterEach(() => t.remove());

  it('keeps live records, removes dead segments, and reopens to the same state', async () => {
    const s = store(t.dir, { journalSegmentBytes: SEG });
    await s.open();
    // 20 keys rewritten 2,000 times, messages enqueued and mostly acked: almost everything dies.
    const expected = new Map<string, string>();
    for (let round = 0; round < 100; round++) {
      const group: JournalEntry[] = [];
      for (let k = 0; k < 20; k++) {
        const v = `r${round}-${'x'.repeat(50)}`;
        group.push(put('meta', `k${k}`, v));
        expected.set(`k${k}`, v);
      }
      const seq = round * 3;
      group.push(enqueue(seq, [1, 2]), enqueue(seq + 1, [1]), enqueue(seq + 2, [3], 'keep-me'));
      await s.journal(group);
      await s.journal([ack(seq, 1), ack(seq, 2), ack(seq + 1, 1)]);
    }
    await s.journal([del('meta', 'k19')]);
    expected.delete('k19');
    await settle(s);
    assert.ok(segFiles(t.dir).length <= 4, `segments after compaction: ${segFiles(t.dir).length}`);
    assert.ok(!segFiles(t.dir).includes('00000000000000000000.seg'), 'oldest segment deleted');
    await s.close();

    const r = await reopen(t.dir, { journalSegmentBytes: SEG });
    assert.deepEqual(plain(r.metadata), { meta: Object.fromEntries([...expected].sort()) });
    assert.equal(r.messages.length, 100);
    assert.ok(r.messages.every((m) => m.message.toString() === 'keep-me' && m.queues.join() === '3' && m.seq % 3 === 2));
    assert.deepEqual(r.messages.map((m) => m.seq), [...r.messages.map((m) => m.seq)].sort((a, b) => a - b));
  });

  it('copies unacked messages with their remaining queues and never resurrects acked ones', async () => {
    const s = store(t.dir, { journalSegmentBytes: SEG });
    await s.open();
    await s.journal([enqueue(1, [1, 2, 3], 'long-lived')]);
    await s.journal([enqueue(2, [1], 'acked-later')]);
    await s.journal([ack(1, 2)]);
    // Push both into old segments, then ack message 2 from a newer segment.
    for (let i = 0; i < 200; i++) await s.journal([put('churn', 'k', 'y'.repeat(200))]);
    await s.journal([ack(2, 1)]);
    for (let i = 0; i < 200; i++) await s.journal([put('churn', 'k', 'z'.repeat(200))]);
    await settle(s);
    assert.ok(segFiles(t.dir).length <= 3);
    await s.close();
    const r = await reopen(t.dir, { journalSegmentBytes: SEG });
    assert.deepEqual(r.messages.map((m) => [m.seq, m.queues, m.message.toString()]), [[1, [1, 3], 'long-lived']]);
  });

  it('recovers correctly after a crash between the compaction copy and the delete', async () => {
    const s = store(t.dir, { journalSegmentBytes: SEG });
    await s.open();
    await s.journal([put('meta', 'stable', 'v1'), put('meta', 'changing', 'a'), put('meta', 'deleted', 'x'), enqueue(1, [1, 2]), enqueue(2, [1])]);
    // Snapshot the first segment as it was before any compaction touched it.
    const first = join(t.dir, 'journal', '00000000000000000000.seg');
    await s.flush();
    const saved = join(t.dir, 'saved.seg');
    copyFileSync(first, saved);
    for (let i = 0; i < 300; i++) await s.journal([put('churn', 'k', String(i).padEnd(200, '.'))]);
    await settle(s);
    assert.ok(!existsSync(first), 'first segment compacted away');
    // State changes after the copy: they must win over the resurrected original.
    await s.journal([ack(1, 2), ack(2, 1), put('meta', 'changing', 'b'), del('meta', 'deleted')]);
    await s.close();
    copyFileSync(saved, first); // both copies present, as if the delete never happened
    const again = store(t.dir, { journalSegmentBytes: SEG });
    const r = await again.open();
    assert.deepEqual(plain(r.metadata).meta, { changing: 'b', stable: 'v1' });
    assert.equal(r.metadata.get('churn')!.get('k')!.toString(), '299'.padEnd(200, '.'));
    assert.deepEqual(r.messages.map((m) => [m.seq, m.queues]), [[1, [1]]]);
    // The restored segment is dead weight now and is compacted away again.
    await settle(again);
    await again.close();
    assert.ok(!existsSync(first));
    const third = await reopen(t.dir, { journalSegmentBytes: SEG });
    assert.deepEqual(plain(third.metadata).meta, { changing: 'b', stable: 'v1' });
    assert.deepEqual(third.messages.map((m) => [m.seq, m.queues]), [[1, [1]]]);
  });

  it('compacts a mostly-live oldest segment once there are too many segments and the journal is mostly dead', async () => {
    const s = store(t.dir, { journalSegmentBytes: SEG, journalMaxSegments: 4 });
    await s.open();
    for (let i = 0; i < 100; i++) await s.journal([put('live', `k${i}`, 'L'.repeat(100))]); // ~1 segment, stays live
    for (let i = 0; i < 2000; i++) await s.journal([put('churn', 'k', 'C'.repeat(100))]);
    await settle(s);
    assert.ok(segFiles(t.dir).length <= 5, `segments: ${segFiles(t.dir).length}`);
    await s.close();
    const r = await reopen(t.dir, { journalSegmentBytes: SEG });
    assert.equal(r.metadata.get('live')!.size, 100);
  });

  it('keeps 100,000 metadata keys and 10,000 durable subscriptions in a few shared segment files', async function () {
    this.timeout(120_000);
    const s = store(t.dir, { journalSegmentBytes: 4 * 1024 * 1024 });
    await s.open();
    const waits: Promise<void>[] = [];
    for (let i = 0; i < 100_000; i += 100) {
      waits.push(s.journal(Array.from({ length: 100 }, (_, j) => put('retained', `sensors.room${i + j}.temp`, `{"t":${i + j}}`))));
    }
    for (let i = 0; i < 10_000; i++) waits.push(s.journal([put('session', `client-${i}`, JSON.stringify({ subs: [`a.${i}.#`], clean: false }))]));
    await Promise.all(waits);
    // Rewrite half the retained values, delete a tenth of the sessions.
    for (let i = 0; i < 50_000; i += 100) {
      await s.journal(Array.from({ length: 100 }, (_, j) => put('retained', `sensors.room${i + j}.temp`, `{"t":${i + j},"v":2}`)));
    }
    for (let i = 0; i < 1000; i++) waits.push(s.journal([del('session', `client-${i}`)]));
    await Promise.all(waits);
    await settle(s);
    const files = readdirSync(join(t.dir, 'journal'));
    assert.ok(files.length <= 6, `journal files: ${files.length}`);
    assert.ok(journalBytes(t.dir) < 20 * 1024 * 1024);
    await s.close();
    const r = await reopen(t.dir, { journalSegmentBytes: 4 * 1024 * 1024 });
    assert.equal(r.metadata.get('retained')!.size, 100_000);
    assert.equal(r.metadata.get('session')!.size, 9_000);
    assert.equal(r.metadata.get('retained')!.get('sensors.room42.temp')!.toString(), '{"t":42,"v":2}');
    assert.equal(r.metadata.get('retained')!.get('sensors.room99999.temp')!.toString(), '{"t":99999}');
  });
});
