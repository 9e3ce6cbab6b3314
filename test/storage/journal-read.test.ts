/**
 * Reading queued messages back from the journal (paged queues): the body location kept per live
 * message, recovery with summaries instead of bodies, locations followed across compaction, and
 * the disk cap (storage.maxDiskBytes).
 */
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { encodeMessage, summarizeMessage } from '../../core/message-codec.js';
import { createMessage, messageSize } from '../../core/message.js';
import type { JournalEntry } from '../../core/store.js';
import { ack, batchAt, enqueue, POLICY, store, tempDir } from './helpers.js';

const SEG = 16 * 1024;
const tick = (ms = 0) => new Promise<void>((r) => setTimeout(r, ms));
const segFiles = (dir: string) => readdirSync(join(dir, 'journal')).filter((f) => f.endsWith('.seg')).sort();
const texts = (bufs: Array<Buffer | undefined>) => bufs.map((b) => b?.toString());

async function settle(s: { journalSegments: number[]; flush(): Promise<void> }): Promise<void> {
  let last = '';
  for (let i = 0; i < 200; i++) {
    await s.flush();
    await tick(5);
    const now = s.journalSegments.join();
    if (now === last) return;
    last = now;
  }
}

describe('storage/journal: reading queued messages back', () => {
  let t: ReturnType<typeof tempDir>;
  beforeEach(() => (t = tempDir('journal-read')));
  afterEach(() => t.remove());

  it('reads bodies by seq, in the order asked, also from groups of several entries and before the write ends', async () => {
    const s = store(t.dir);
    await s.open();
    await s.journal([enqueue(1, [1], 'one')]);
    await s.journal([enqueue(2, [1, 2], 'two'), ack(1, 1), enqueue(3, [2], 'three')]);
    const pending = s.journal([enqueue(4, [1], 'four')]); // not awaited: the read waits for the write
    assert.deepEqual(texts(await s.readMessages([4, 3, 2, 1, 99])), ['four', 'three', 'two', undefined, undefined]);
    await pending;
    await s.close();
  });

  it('recovers summaries instead of bodies when asked, and reads the bodies after the restart', async () => {
    const s = store(t.dir);
    await s.open();
    const now = Date.now();
    const messages = [
      createMessage({ topic: 'q', payload: Buffer.from('plain') }),
      createMessage({ topic: 'q', payload: Buffer.from('urgent'), priority: 9, key: Buffer.from('k'), headers: { a: 'b' } }),
      createMessage({ topic: 'q.long.topic', payload: Buffer.alloc(300, 1), expiry: now + 60_000, messageId: 'id', replyTo: '/queue/r', correlationId: Buffer.from('c') }),
    ];
    for (let i = 0; i < messages.length; i++) await s.journal([{ kind: 'enqueue', seq: i + 1, queues: [7], message: encodeMessage(messages[i]) }]);
    await s.journal([ack(1, 7)]);
    await s.close();

    const again = store(t.dir);
    const r = await again.open({ summarize: summarizeMessage });
    assert.equal(r.messages.length, 0, 'no bodies recovered');
    const paged = [...r.paged!];
    assert.deepEqual(paged.map((m) => m.seq), [2, 3]);
    assert.deepEqual(paged.map((m) => m.queues), [[7], [7]]);
    assert.deepEqual(paged[0].summary, { size: messageSize(messages[1]), priority: 9 });
    assert.deepEqual(paged[1].summary, { size: messageSize(messages[2]), expiry: now + 60_000 });
    const [two, three] = await again.readMessages([2, 3]);
    assert.ok(two!.equals(encodeMessage(messages[1])) && three!.equals(encodeMessage(messages[2])));
    await again.close();
  });

  it('follows messages that compaction moved, with reads running while segments are copied and deleted', async () => {
    const s = store(t.dir, { journalSegmentBytes: SEG });
    await s.open();
    const live = new Map<number, string>();
    let readsDone = 0;
    const reads: Promise<void>[] = [];
    for (let seq = 1; seq <= 3000; seq++) {
      const body = `body-${seq}-`.padEnd(40, 'x');
      const group: JournalEntry[] = [enqueue(seq, [1], body)];
      // Nine of ten die at once: the oldest segments are mostly dead and get compacted (copied, deleted).
      if (seq % 10 !== 0) group.push(ack(seq, 1));
      else live.set(seq, body);
      await s.journal(group);
      if (seq % 100 === 0) {
        const seqs = [...live.keys()];
        reads.push(s.readMessages(seqs).then((got) => {
          assert.deepEqual(texts(got), seqs.map((q) => live.get(q)));
          readsDone++;
        }));
      }
    }
    await Promise.all(reads);
    await settle(s);
    assert.equal(readsDone, 30);
    assert.ok(!segFiles(t.dir).includes('00000000000000000000.seg'), 'the oldest segments were compacted away');
    const seqs = [...live.keys()];
    assert.deepEqual(texts(await s.readMessages(seqs)), seqs.map((q) => live.get(q)));
    await s.close();

    const again = store(t.dir, { journalSegmentBytes: SEG });
    const r = await again.open();
    assert.deepEqual(r.messages.map((m) => m.seq), seqs);
    assert.deepEqual(texts(await again.readMessages(seqs)), seqs.map((q) => live.get(q)));
    await again.close();
  });

  it('storage.maxDiskBytes: refuses new messages past the cap, still takes acks, takes messages again once space is freed', async () => {
    const s = store(t.dir, { maxDiskBytes: 4000, journalSegmentBytes: SEG });
    await s.open();
    let seq = 0;
    let refused: Error | undefined;
    while (!refused && seq < 1000) {
      seq++;
      await s.journal([enqueue(seq, [1], 'x'.repeat(100))]).catch((err: Error) => (refused = err));
    }
    assert.ok(refused, 'the cap refused a message');
    assert.equal(refused.name, 'StorageFailedError', 'adapters answer it as any refused store');
    assert.match(refused.message, /storage limit reached/);
    const stored = seq - 1;
    assert.ok(stored >= 30 && stored <= 40, `about 4000 bytes of messages stored: ${stored}`);
    assert.equal(s.offlineLogs, 0, 'a cap is not a write failure: the journal stays online');
    // Acks still go in, and the space they free takes new messages.
    for (let q = 1; q <= 10; q++) await s.journal([ack(q, 1)]);
    await tick(60); // the used figure is refreshed at most every 50 ms
    await s.journal([enqueue(5000, [1], 'y'.repeat(100))]);
    // Stream partitions count and are refused the same way.
    const log = await s.openPartition('events', 0, POLICY);
    const big = batchAt(0, 20, { size: 100 });
    await tick(60);
    await assert.rejects(log.append(big.batch, big.info), (err: Error) => err.name === 'StorageFailedError' && /storage limit/.test(err.message));
    await s.close();

    // Nothing acknowledged was lost.
    const again = store(t.dir, { journalSegmentBytes: SEG });
    const r = await again.open();
    assert.deepEqual(r.messages.map((m) => m.seq), [...Array.from({ length: stored - 10 }, (_, i) => i + 11), 5000]);
    await again.close();
  });
});

describe('storage/journal: delivery counts', () => {
  let t: ReturnType<typeof tempDir>;
  beforeEach(() => (t = tempDir('journal-deliver')));
  afterEach(() => t.remove());

  const deliver = (seq: number, queue: number, count: number) => ({ kind: 'deliver' as const, seq, queue, count });

  it('recovers the last delivery count per queue, forgets it with the ack, and keeps it through compaction', async () => {
    const s = store(t.dir, { journalSegmentBytes: SEG });
    await s.open();
    await s.journal([enqueue(1, [1, 2], 'fan-out'), enqueue(2, [1], 'plain')]);
    await s.journal([deliver(1, 1, 1), deliver(1, 2, 1)]);
    await s.journal([deliver(1, 2, 2), deliver(2, 1, 1)]);
    await s.journal([ack(2, 1), deliver(99, 1, 5)]); // a delivery of an unknown message is ignored
    // Fill and kill the first segments: the enqueue of seq 1 is copied to the head, its counts with it.
    for (let seq = 10; seq < 1000; seq++) await s.journal([enqueue(seq, [3], 'x'.repeat(40)), ack(seq, 3)]);
    await settle(s);
    assert.ok(!segFiles(t.dir).includes('00000000000000000000.seg'), 'the segment holding the enqueue and the deliveries is gone');
    await s.close();
    const again = store(t.dir, { journalSegmentBytes: SEG });
    const r = await again.open({ summarize: () => ({ size: 1 }) });
    assert.deepEqual([...r.paged!].map((m) => [m.seq, m.queues, m.deliveryCounts]), [[1, [1, 2], [1, 2]]]);
    await again.journal([ack(1, 1)]);
    await again.close();
    const third = store(t.dir, { journalSegmentBytes: SEG });
    const r3 = await third.open();
    assert.deepEqual(r3.messages.map((m) => [m.seq, m.queues, m.deliveryCounts]), [[1, [2], [2]]]);
    await third.close();
  });
});
