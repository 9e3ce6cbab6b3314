import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { readBatchHeader } from '../../core/stream/batch-header.js';
import { POLICIES, store, tempDir } from './helpers.js';

const writer = fileURLToPath(new URL('./fixtures/crash-writer.js', import.meta.url));

/** Runs the writer until it has acknowledged `lines` writes, then SIGKILLs it; returns the acknowledged lines. */
function runAndKill(dir: string, fsync: string, lines: number): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [writer, dir, fsync], { stdio: ['ignore', 'pipe', 'inherit'] });
    let text = '';
    let seen = 0;
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => {
      text += chunk;
      seen += chunk.split('\n').length - 1;
      if (seen >= lines && child.exitCode === null && !child.killed) child.kill('SIGKILL');
    });
    child.on('error', reject);
    child.on('close', (code, signal) => {
      if (signal !== 'SIGKILL') return reject(new Error(`writer exited with ${code} before the kill`));
      // Only whole lines were acknowledged; a cut last line is ignored.
      resolve(text.split('\n').slice(0, -1));
    });
  });
}

describe('storage/kill -9', () => {
  for (const fsync of POLICIES) {
    it(`recovers every acknowledged write after SIGKILL mid-stream (fsync ${fsync})`, async function () {
      this.timeout(60_000);
      const t = tempDir(`crash-${fsync}`);
      try {
        const lines = await runAndKill(t.dir, fsync, 6000);
        assert.equal(lines[0], 'ready');
        const enqueued = new Set<number>();
        const acked = new Set<number>();
        let lastOffset = -1;
        let lastRound = 0;
        for (const line of lines.slice(1)) {
          const [kind, n] = [line[0], Number(line.slice(2))];
          if (kind === 'J') enqueued.add(n);
          else if (kind === 'A') acked.add(n);
          else if (kind === 'P') lastOffset = Math.max(lastOffset, n);
          else if (kind === 'R') lastRound = n;
        }
        assert.ok(enqueued.size > 1000 && acked.size > 100 && lastOffset > 100, `writer made progress (${enqueued.size}, ${acked.size}, ${lastOffset})`);

        const s = store(t.dir, { fsync: 'interval', journalSegmentBytes: 64 * 1024 });
        const r = await s.open();
        const present = new Map(r.messages.map((m) => [m.seq, m]));
        // Rounds issue seqs [R, R + 20) and ack seq - 40 for each even seq: an ack issued in the last round may be on disk unannounced.
        const ackMaybeIssued = (seq: number) => seq % 2 === 0 && seq + 40 >= lastRound && seq + 40 < lastRound + 20;
        for (const seq of enqueued) {
          if (acked.has(seq)) assert.ok(!present.has(seq), `acked message ${seq} must stay acked`);
          else if (!ackMaybeIssued(seq)) {
            const m = present.get(seq);
            assert.ok(m, `acknowledged message ${seq} lost`);
            assert.deepEqual(m.queues, [1, 2]);
            assert.ok(m.message.toString().startsWith(`message ${seq} `));
          }
        }
        // The newest value of each key is at least the newest acknowledged one.
        for (let k = 0; k < 50; k++) {
          const newest = Math.max(-1, ...[...enqueued].filter((n) => n % 50 === k));
          if (newest >= 0) assert.ok(Number(r.metadata.get('last')!.get(`k${k}`)!.toString()) >= newest);
        }
        assert.equal(r.streams.get('crash'), 1);
        const p = await s.openPartition('crash', 0, { retentionMs: -1, retentionBytes: -1, segmentBytes: 64 * 1024 });
        assert.ok(p.nextOffset > lastOffset, `partition ends at ${p.nextOffset}, acknowledged up to ${lastOffset}`);
        for (let o = 0; o <= lastOffset; o += 5) {
          const [b] = await p.read(o, 1);
          assert.equal(readBatchHeader(b).baseOffset, o);
        }
        await s.close();
      } catch (err) {
        if (process.env.KEEP_CRASH_DIR) console.log('kept', t.dir, (err as Error).message);
        else t.remove();
        throw err;
      }
      t.remove();
    });
  }
});
