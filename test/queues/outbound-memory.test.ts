/**
 * limits.outboundMemoryBytes: the broker-wide bound on message bodies held in memory for
 * consumers. Two STOMP and two MQTT subscribers (raw sockets) never read while a STOMP and an MQTT
 * publisher offer far more than the bound of non-persistent messages; each subscriber's own bound
 * (queues.maxBytes, mqtt.maxQueuedBytes) is left far above it. The bodies the broker holds stay
 * near the bound, the publishers are held back (not refused), canaries of both protocols keep
 * working, one warning is logged, and once the subscribers go every held publish is acknowledged.
 */
import assert from 'node:assert/strict';
import mqtt from 'mqtt';
import type mqttPacket from 'mqtt-packet';
import { startBroker, TEST_HOST, type RunningBroker } from '../support/broker.js';
import { recordingLogger, type LogRecord } from '../support/logger.js';
import { rawConnected, type RawClient } from '../mqtt/helpers.js';
import { delay, RawStomp } from '../stomp/helpers.js';
import { eventually } from '../support/index.js';

const MiB = 1024 * 1024;
const BOUND = 16 * MiB;
const BODY = Buffer.alloc(64 * 1024, 0x78);

/** Resolves true once `p` settles, false after `ms` (it keeps running). */
function settlesWithin(p: Promise<unknown>, ms: number): Promise<boolean> {
  return new Promise((resolve) => {
    const t = setTimeout(() => resolve(false), ms);
    p.then(() => { clearTimeout(t); resolve(true); }, () => { clearTimeout(t); resolve(true); });
  });
}

describe('queues: limits.outboundMemoryBytes bounds what non-reading subscribers hold, broker-wide', function () {
  this.timeout(120_000);
  let b: RunningBroker;
  const records: LogRecord[] = [];
  before(async () => {
    b = await startBroker({
      logger: recordingLogger(records),
      limits: { outboundMemoryBytes: BOUND },
      queues: { maxBytes: 1024 * MiB },
      mqtt: { maxQueuedBytes: 0, maxQueuedMessages: 0 },
    });
  });
  after(async () => b?.close());

  it('STOMP and MQTT subscribers that never read: held bodies stay near the bound, publishers wait, canaries work, nothing acknowledged is lost', async () => {
    const memory = b.broker.outboundMemory;
    const stompPort = b.ports.stomp!;
    const mqttPort = b.ports.mqtt!;

    // Four subscribers to the same topic that stop reading.
    const stompSubs: RawStomp[] = [];
    for (const ack of ['auto', 'client-individual']) {
      const s = await RawStomp.connect(stompPort);
      await s.sendWithReceipt('SUBSCRIBE', { id: '1', destination: '/topic/flood', ack });
      s.socket.pause();
      stompSubs.push(s);
    }
    const mqttSubs: RawClient[] = [];
    for (const qos of [0, 1] as const) {
      const r = await rawConnected(mqttPort, 4, { clientId: `unread-q${qos}`, clean: true });
      r.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'flood', qos }] } as mqttPacket.ISubscribePacket);
      assert.equal((await r.nextPacket()).cmd, 'suback');
      r.socket.pause();
      mqttSubs.push(r);
    }

    let peak = 0;
    const sample = setInterval(() => { peak = Math.max(peak, memory.heldBytes); }, 5);

    // A STOMP producer writes non-persistent SENDs with receipts, with back-pressure, until the
    // broker stops taking bytes for 2 s or 200 MB were offered.
    const producer = await RawStomp.connect(stompPort);
    const frame = (i: number) => Buffer.concat([
      Buffer.from(`SEND\ndestination:/topic/flood\nreceipt:s${i}\ncontent-length:${BODY.length}\n\n`), BODY, Buffer.from([0]),
    ]);
    let sent = 0;
    let stalled = false;
    while (sent * BODY.length < 200 * MiB && !stalled) {
      const ok = producer.socket.write(frame(sent++));
      if (!ok) stalled = !(await settlesWithin(new Promise((r) => producer.socket.once('drain', r)), 2000));
    }
    assert.ok(stalled, `the STOMP producer is held back (offered ${sent} frames)`);

    // An MQTT publisher (npm mqtt, QoS 1, 20 in flight) is held back too: its PUBACKs wait.
    const publisher = await mqtt.connectAsync(`mqtt://${TEST_HOST}:${mqttPort}`, { clientId: 'flood-publisher', reconnectPeriod: 0 });
    const published: Array<Promise<unknown>> = [];
    let mqttHeld = false;
    for (let round = 0; round < 100 && !mqttHeld; round++) {
      const batch = Array.from({ length: 20 }, () => publisher.publishAsync('flood', BODY, { qos: 1 }));
      published.push(...batch);
      mqttHeld = !(await settlesWithin(Promise.all(batch), 2000));
    }
    assert.ok(mqttHeld, `the MQTT publisher is held back (published ${published.length})`);
    clearInterval(sample);

    assert.equal(memory.pressure, true);
    // Without the bound the four subscribers would hold 4 x what was offered (several hundred MB).
    // With it: the bound, plus each publisher's publishes in flight (the STOMP producer's
    // stomp.maxInflightBytes, 20 MQTT publishes), counted once per subscriber queue.
    assert.ok(peak < BOUND + 40 * MiB, `held ${(peak / MiB).toFixed(1)} MiB at most`);
    assert.ok(sent * BODY.length * 4 > 3 * BOUND, 'more was offered than the bound');

    // Canaries of both protocols, on other names, are served while the pressure lasts.
    const canary = await RawStomp.connect(stompPort);
    await canary.sendWithReceipt('SUBSCRIBE', { id: 'c', destination: '/queue/canary-outbound' });
    await canary.sendWithReceipt('SEND', { destination: '/queue/canary-outbound' }, 'alive');
    assert.equal((await canary.expect('MESSAGE')).body.toString(), 'alive');
    const mqttCanary = await mqtt.connectAsync(`mqtt://${TEST_HOST}:${mqttPort}`, { clientId: 'canary', reconnectPeriod: 0 });
    const got = new Promise<string>((resolve) => mqttCanary.on('message', (_t, p) => resolve(p.toString())));
    await mqttCanary.subscribeAsync('canary/outbound', { qos: 1 });
    await mqttCanary.publishAsync('canary/outbound', 'alive', { qos: 1 });
    assert.equal(await got, 'alive');
    assert.equal(memory.pressure, true, 'the canaries ran while the bound was passed');

    // The subscribers go: their queues are deleted, the bodies released, the publishers resume and
    // every publish they made is acknowledged (a RECEIPT per SEND, a PUBACK per PUBLISH).
    for (const s of stompSubs) s.destroy();
    for (const r of mqttSubs) r.close();
    await eventually(() => !memory.pressure, { what: 'the pressure to end', timeout: 20_000 });
    await eventually(() => producer.frames.filter((f) => f.command === 'RECEIPT').length === sent, { what: `${sent} receipts`, timeout: 60_000 });
    assert.equal(producer.frames.filter((f) => f.command === 'ERROR').length, 0);
    await Promise.all(published);
    await eventually(() => memory.heldBytes === 0, { what: 'every body released', timeout: 20_000 });

    const warnings = records.filter((r) => r.msg?.startsWith('outbound memory over'));
    assert.equal(warnings.length, 1, 'one warning for the episode');
    assert.equal(warnings[0].level, 'warn');
    assert.ok(records.some((r) => r.level === 'info' && r.msg?.startsWith('outbound memory back under')));

    await canary.disconnect();
    await producer.disconnect();
    await publisher.endAsync();
    await mqttCanary.endAsync();
    await delay(0);
  });
});
