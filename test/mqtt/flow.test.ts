/** Flow control: a slow store slows the publisher; a subscriber that stops reading only loses its own oldest messages. */
import assert from 'node:assert/strict';
import type mqttPacket from 'mqtt-packet';
import type { JournalEntry } from '../../core/store.js';
import { MemoryStore } from '../../core/storage/memory-store.js';
import { connect, endAll, Inbox, rawConnected, sleep, startMqtt, uid } from './helpers.js';
import { eventually } from '../support/index.js';

class GatedStore extends MemoryStore {
  gate: Promise<void> | null = null;
  override async journal(entries: JournalEntry[]): Promise<void> {
    if (this.gate && entries.some((e) => e.kind === 'enqueue')) await this.gate;
    return super.journal(entries);
  }
}

describe('mqtt flow control', () => {
  afterEach(endAll);

  it('stops reading from a publisher while too many of its publishes await the store', async () => {
    const store = new GatedStore();
    const t = await startMqtt({ store, mqtt: { maxPendingPublishes: 10 } });
    try {
      await t.b.broker.declareQueue('slowdisk', { durable: true });
      await t.b.broker.bindQueue('slowdisk', 'disk.#');
      let release!: () => void;
      store.gate = new Promise((r) => (release = r));
      const r = await rawConnected(t.port);
      const payload = Buffer.alloc(1024, 1);
      for (let i = 1; i <= 2000; i++) r.send({ cmd: 'publish', topic: 'disk/x', payload, qos: 1, messageId: i, retain: false, dup: false } as mqttPacket.IPublishPacket);
      const q = t.b.broker.getQueue('slowdisk')!;
      await eventually(() => q.messageCount > 0, { what: 'first messages' });
      await sleep(300);
      assert.ok(q.messageCount < 500, `reading paused: ${q.messageCount} taken while the store is stuck`);
      release();
      await eventually(() => q.messageCount === 2000, { timeout: 10_000, what: 'all 2000 stored once the store moves' });
      const acks = new Set<number>();
      while (acks.size < 2000) acks.add((await r.nextPacket()).messageId!);
      r.close();
    } finally {
      await t.close();
    }
  });

  it('a subscriber that does not read: its queue stays bounded, drops its oldest, others get everything', async () => {
    const t = await startMqtt({ mqtt: { maxQueuedMessages: 1000 } });
    try {
      const topic = `flood/${uid()}`;
      const stuckId = uid('stuck');
      const stuck = await rawConnected(t.port, 4, { clientId: stuckId });
      stuck.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic, qos: 0 }] } as mqttPacket.ISubscribePacket);
      await stuck.nextPacket();
      stuck.socket.pause();
      const healthy = await connect(t.url);
      const inbox = new Inbox(healthy);
      await healthy.subscribeAsync(topic, { qos: 0 });
      const pub = await connect(t.url);
      const payload = Buffer.alloc(1024, 2);
      const n = 20_000;
      for (let i = 0; i < n; i++) {
        pub.publish(topic, payload, { qos: 0 });
        if (i % 100 === 0) await inbox.waitCount(Math.max(0, i - 500), 20_000);
      }
      await inbox.waitCount(n, 30_000);
      const q = t.b.broker.getQueue(`mqtt.session.${stuckId}`)!;
      assert.ok(q.messageCount <= 1000, `bounded: ${q.messageCount}`);
      assert.ok(q.stats.dropped > 0, 'the stuck subscriber lost its oldest messages');
      stuck.close();
    } finally {
      await t.close();
    }
  });
});
