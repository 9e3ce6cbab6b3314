/**
 * XEP-0198 acknowledgements of offline messages: the server's <a h/> may count a chat message to
 * an offline account only once it is in the store. Before the fix the <a/> went out while the
 * store write was still pending, and a kill -9 right after it lost every such message (found by
 * `npm run chaos`; 50 of 50 lost in each of 8 rounds). Here the store holds the write back until
 * released, and the <a/> must not come before that.
 */
import assert from 'node:assert/strict';
import { MemoryStore } from '../../core/storage/memory-store.js';
import type { JournalEntry } from '../../core/store.js';
import { rawLogin, startXmpp, type Harness } from './helpers.js';
import { eventually } from '../support/index.js';

/** A MemoryStore whose journal writes of durable messages wait until release(). */
class GatedStore extends MemoryStore {
  held = 0;
  released = false;
  private readonly waiting: Array<() => void> = [];

  override journal(entries: JournalEntry[]): Promise<void> {
    if (this.released || !entries.some((e) => e.kind === 'enqueue')) return super.journal(entries);
    this.held++;
    return new Promise<void>((resolve) => this.waiting.push(resolve)).then(() => super.journal(entries));
  }

  release(): void {
    this.released = true;
    for (const w of this.waiting.splice(0)) w();
  }
}

describe('xmpp: stream management acknowledges offline messages only once stored', function () {
  this.timeout(20000);
  let h: Harness;
  let store: GatedStore;

  beforeEach(async () => {
    store = new GatedStore();
    h = await startXmpp({ store });
  });
  afterEach(async () => {
    await h.close();
  });

  it('answers <r/> after the offline message is stored, not before', async () => {
    const c = await rawLogin(h.port, 'alice', 'alice-pw');
    try {
      const mark = c.buf.length;
      c.send(`<enable xmlns='urn:xmpp:sm:3'/>`);
      await c.waitFor(/<enabled[^>]*\/?>/, 5000, mark);
      const before = c.buf.length;
      c.send(`<message to='bob@localhost' type='chat' id='m1'><body>kept</body></message><r xmlns='urn:xmpp:sm:3'/>`);
      // Wait until the write is held by the store, then give the server time to (wrongly) answer:
      // an absence, which no event can announce.
      await eventually(() => store.held > 0, { what: 'the offline message reaching the store' });
      assert.equal(store.held, 1, 'the offline message reached the store');
      await new Promise((r) => setTimeout(r, 200));
      assert.doesNotMatch(c.buf.slice(before), /<a xmlns='urn:xmpp:sm:3'/, 'no <a/> while the message is not stored');
      store.release();
      const [a] = await c.waitFor(/<a xmlns='urn:xmpp:sm:3' h='(\d+)'\/>/, 5000, before);
      assert.match(a, /h='1'/);
      assert.equal(h.broker.getQueue('xmpp.offline.bob@localhost')?.messageCount, 1, 'stored in the offline queue');
    } finally {
      c.destroy();
    }
  });
});
