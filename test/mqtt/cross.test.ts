/** MQTT <-> core: an MQTT publish reaches a core queue and a stream; core publishes reach MQTT subscribers. */
import assert from 'node:assert/strict';
import { createMessage, type Message } from '../../core/message.js';
import { StreamCursor } from '../../core/stream/stream-cursor.js';
import { connect, connectInbox, endAll, Inbox, startMqtt, uid, type MqttTestBroker } from './helpers.js';

describe('mqtt <-> core', () => {
  let t: MqttTestBroker;
  before(async () => { t = await startMqtt(); });
  afterEach(endAll);
  after(async () => { await t.close(); });

  it('MQTT -> core queue: a queue bound to a topic pattern collects MQTT publishes', async () => {
    const q = `jobs-${uid()}`;
    await t.b.broker.declareQueue(q, { durable: true });
    await t.b.broker.bindQueue(q, 'factory.*.temp');
    const pub = await connect(t.url, { protocolVersion: 5 });
    await pub.publishAsync('factory/line1/temp', '21.5', { qos: 1, properties: { userProperties: { unit: 'C' }, contentType: 'text/plain' } });
    await pub.publishAsync('factory/line2/temp', '19.0', { qos: 0 });
    await pub.publishAsync('factory/line2/pressure', 'ignored', { qos: 1 });
    const got: Message[] = [];
    await new Promise<void>((resolve) => {
      const c = t.b.broker.getQueue(q)!.consume({ prefetch: 10, autoAck: false, creditMode: false }, (d, consumer) => {
        got.push(d.message);
        void consumer.ack(d.tag);
        if (got.length === 2) {
          consumer.close();
          resolve();
        }
      });
      void c;
    });
    assert.deepEqual(got.map((m) => [m.topic, m.payload.toString(), m.durable, m.source]), [
      ['factory.line1.temp', '21.5', true, 'mqtt'],
      ['factory.line2.temp', '19.0', false, 'mqtt'],
    ]);
    assert.deepEqual(got[0].headers, { unit: 'C' });
    assert.equal(got[0].contentType, 'text/plain');
    await t.b.broker.deleteQueue(q);
  });

  it('MQTT -> core stream (a Kafka topic collecting sensors.#)', async () => {
    const name = `telemetry${uid('s').replaceAll('-', '')}`;
    const stream = await t.b.broker.createStream(name, { partitions: 1, patterns: [`${name}.#`] });
    const pub = await connect(t.url);
    await pub.publishAsync(`${name}/dev1`, 'reading', { qos: 1 });
    const cursor = await StreamCursor.open(stream, 'first');
    const [r] = await cursor.poll(10, 2000);
    assert.equal(r.message.payload.toString(), 'reading');
    await t.b.broker.deleteStream(name);
  });

  it('core -> MQTT: broker.publish from the core reaches MQTT 5 and 3.1.1 subscribers with mapped fields', async () => {
    const base = uid('alerts');
    const v5 = await connect(t.url, { protocolVersion: 5 });
    const v4 = await connect(t.url, { protocolVersion: 4 });
    const [i5, i4] = [new Inbox(v5), new Inbox(v4)];
    await v5.subscribeAsync(`${base}/#`, { qos: 2 });
    await v4.subscribeAsync(`${base}/#`, { qos: 2 });
    await t.b.broker.publish(createMessage({
      topic: `${base}.fire.v1/2`, payload: Buffer.from('{"level":3}'), durable: true, source: 'amqp',
      headers: { severity: 3, urgent: true }, contentType: 'application/json', correlationId: 'req-9', replyTo: '/topic/responses.x',
      expiry: Date.now() + 60_000,
    }));
    const m5 = await i5.next();
    assert.equal(m5.topic, `${base}/fire/v1.2`);
    assert.equal(m5.packet.qos, 1, 'durable from another protocol = QoS 1');
    const p = m5.packet.properties!;
    assert.deepEqual({ ...p.userProperties }, { severity: '3', urgent: 'true' });
    assert.equal(p.contentType, 'application/json');
    assert.deepEqual(p.correlationData, Buffer.from('req-9'));
    assert.equal(p.responseTopic, 'responses/x');
    assert.ok(p.messageExpiryInterval! > 0 && p.messageExpiryInterval! <= 60);
    const m4 = await i4.next();
    assert.equal(m4.payload.toString(), '{"level":3}');
    assert.equal(m4.packet.properties, undefined);
  });

  it('core -> MQTT: a non-durable core message is QoS 0; a /queue reply-to has no response topic', async () => {
    const topic = uid('nd');
    const c = await connect(t.url, { protocolVersion: 5 });
    const inbox = new Inbox(c);
    await c.subscribeAsync(topic, { qos: 2 });
    await t.b.broker.publish(createMessage({ topic, payload: Buffer.from('x'), replyTo: '/queue/answers' }));
    const m = await inbox.next();
    assert.equal(m.packet.qos, 0);
    assert.equal(m.packet.properties?.responseTopic, undefined);
  });

  it('a core message MQTT cannot carry (topic over 65535 bytes) is skipped, not fatal', async () => {
    const base = uid('long');
    const c = await connect(t.url);
    const inbox = new Inbox(c);
    await c.subscribeAsync(`${base}/#`, { qos: 1 });
    await t.b.broker.publish(createMessage({ topic: `${base}.${'é'.repeat(40_000)}`, payload: Buffer.from('too long'), durable: true }));
    await t.b.broker.publish(createMessage({ topic: `${base}.ok`, payload: Buffer.from('fine'), durable: true }));
    const m = await inbox.next();
    assert.equal(m.payload.toString(), 'fine');
  });

  it('core queue -> MQTT: a message sent to a session queue reaches that client', async () => {
    const clientId = uid('direct');
    const c = await connect(t.url, { clientId, clean: false });
    await c.subscribeAsync(`direct/${clientId}`, { qos: 1 });
    await c.endAsync();
    await t.b.broker.sendToQueue(`mqtt.session.${clientId}`, createMessage({ topic: `direct.${clientId}`, payload: Buffer.from('via queue'), durable: true }));
    const { inbox } = await connectInbox(t.url, { clientId, clean: false });
    const m = await inbox.next();
    assert.equal(m.payload.toString(), 'via queue');
    assert.equal(m.topic, `direct/${clientId}`);
  });
});
