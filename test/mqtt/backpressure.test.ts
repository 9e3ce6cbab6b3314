/**
 * Output back-pressure: subscribers (QoS 0 and QoS 1) that never read while a publisher sends more
 * than 100 MB. The broker stops delivering to them once their socket holds its high-water mark,
 * their session queues keep at most maxQueuedBytes (oldest dropped), so its memory stays bounded,
 * and a canary client keeps working throughout.
 */
import assert from 'node:assert/strict';
import type mqttPacket from 'mqtt-packet';
import { connect, endAll, Inbox, rawConnected, startMqtt, uid, type MqttTestBroker, type RawClient } from './helpers.js';
import { liveBytes } from '../support/memory.js';

const MiB = 1024 * 1024;
const QUEUE_BOUND = 8 * MiB;
const PAYLOAD = 256 * 1024;
const COUNT = 420; // 105 MiB

describe('mqtt output back-pressure', function () {
  this.timeout(120_000);
  let t: MqttTestBroker;
  before(async () => { t = await startMqtt({ mqtt: { maxQueuedBytes: QUEUE_BOUND } }); });
  afterEach(endAll);
  after(async () => { await t.close(); });

  it('QoS 0 and QoS 1 subscribers that never read hold the broker\'s memory to a bound; a canary keeps working', async () => {
    const stalled: RawClient[] = [];
    for (const qos of [0, 1] as const) {
      const r = await rawConnected(t.port, 4, { clientId: uid(`stalled-q${qos}`) });
      r.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'flood/#', qos }] } as mqttPacket.ISubscribePacket);
      assert.equal((await r.nextPacket()).cmd, 'suback');
      r.socket.pause(); // never reads again
      stalled.push(r);
    }
    const canary = await connect(t.url, { clientId: uid('canary') });
    const canaryInbox = new Inbox(canary);
    await canary.subscribeAsync('canary/#', { qos: 1 });

    const before = await liveBytes();
    let peak = 0;
    const publisher = await connect(t.url, { clientId: uid('publisher') });
    const payload = Buffer.alloc(PAYLOAD, 0x61);
    for (let i = 0; i < COUNT; i += 20) {
      await Promise.all(Array.from({ length: 20 }, (_, j) => publisher.publishAsync(`flood/${i + j}`, payload, { qos: 1 })));
      if (i % 100 === 0) {
        // The canary is served while the flood goes on.
        await canary.publishAsync(`canary/${i}`, 'alive', { qos: 1 });
        await canaryInbox.next();
        peak = Math.max(peak, (await liveBytes()) - before);
      }
    }
    peak = Math.max(peak, (await liveBytes()) - before);

    // Sent: 105 MiB to each of two subscribers. Held: two session queues of QUEUE_BOUND, the
    // socket buffers and the publisher's in-flight window; without a bound it would be ~105 MiB.
    assert.ok(peak < 48 * MiB, `broker memory grew by ${(peak / MiB).toFixed(1)} MiB`);
    for (const r of stalled) assert.equal(r.isClosed(), false, 'a slow subscriber is held back, not disconnected');
    await canary.publishAsync('canary/end', 'alive', { qos: 1 });
    assert.equal((await canaryInbox.next()).payload.toString(), 'alive');
    for (const r of stalled) r.close();
  });
});
