/**
 * STOMP with the other protocols through the core: core publish, MQTT, AMQP 1.0 and Kafka
 * (each only where its adapter exists in this tree; otherwise skipped with a message).
 */
import assert from 'node:assert/strict';
import { Kafka, logLevel } from 'kafkajs';
import mqtt from 'mqtt';
import rhea from 'rhea';
import { createMessage } from '../../core/message.js';
import { RawStomp, startStomp, type StompBroker } from './helpers.js';
import { eventually } from '../support/index.js';

describe('STOMP across protocols', function () {
  this.timeout(30000);
  let s: StompBroker;
  before(async () => {
    s = await startStomp({ protocols: ['stomp', 'mqtt', 'amqp', 'kafka'] });
  });
  after(async () => { await s?.close(); });

  function need(protocol: string): number {
    const port = s.b.ports[protocol];
    assert.ok(port, `the ${protocol} adapter listens`);
    return port;
  }

  it('core publish -> STOMP topic subscription (fields mapped)', async () => {
    const c = await RawStomp.connect(s.port);
    await c.sendWithReceipt('SUBSCRIBE', { id: '1', destination: '/topic/core.*' });
    await s.b.broker.publish(createMessage({
      topic: 'core.x', payload: Buffer.from('from core'), contentType: 'text/plain', correlationId: 'k', replyTo: '/queue/back',
      headers: { n: 1 }, priority: 2, messageId: 'mid-1',
    }));
    const m = await c.expect('MESSAGE');
    assert.equal(m.body.toString(), 'from core');
    assert.equal(m.headers.destination, '/topic/core.x');
    assert.equal(m.headers['content-type'], 'text/plain');
    assert.equal(m.headers['correlation-id'], 'k');
    assert.equal(m.headers['reply-to'], '/queue/back');
    assert.equal(m.headers.n, '1');
    assert.equal(m.headers.priority, '2');
    assert.equal(m.headers['x-message-id'], 'mid-1');
    await c.disconnect();
  });

  it('MQTT publish a/b/c -> STOMP /topic/a.b.c, and STOMP SEND -> MQTT subscriber', async () => {
    const port = need('mqtt');
    const c = await RawStomp.connect(s.port);
    await c.sendWithReceipt('SUBSCRIBE', { id: '1', destination: '/topic/xp.mqtt.*' });
    const client = await mqtt.connectAsync(`mqtt://127.0.0.1:${port}`, { protocolVersion: 5, reconnectPeriod: 0 });
    try {
      await client.publishAsync('xp/mqtt/temp', Buffer.from([0, 1, 2]), { qos: 1, properties: { contentType: 'application/x-bin', userProperties: { room: 'r1' } } });
      const m = await c.expect('MESSAGE');
      assert.equal(m.headers.destination, '/topic/xp.mqtt.temp');
      assert.deepEqual(m.body, Buffer.from([0, 1, 2]));
      assert.equal(m.headers['content-type'], 'application/x-bin');
      assert.equal(m.headers.room, 'r1');

      const got: Array<{ topic: string; payload: Buffer; packet: mqtt.IPublishPacket }> = [];
      client.on('message', (topic, payload, packet) => got.push({ topic, payload, packet }));
      await client.subscribeAsync('xp/back/#', { qos: 1 });
      await c.sendWithReceipt('SEND', { destination: '/topic/xp.back.one', 'content-type': 'text/plain', 'x-who': 'stomp', persistent: 'true' }, 'to mqtt');
      await eventually(() => got.length === 1, { what: 'MQTT message' });
      assert.equal(got[0].topic, 'xp/back/one');
      assert.equal(got[0].payload.toString(), 'to mqtt');
    } finally {
      await client.endAsync();
      await c.disconnect();
    }
  });

  it('AMQP 1.0 sender -> STOMP /queue/, and STOMP SEND -> AMQP receiver', async () => {
    const port = need('amqp');
    const container = rhea.create_container({ id: 'xp-amqp' });
    const conn = container.connect({ host: '127.0.0.1', port, reconnect: false });
    const stomp = await RawStomp.connect(s.port);
    try {
      await stomp.sendWithReceipt('SUBSCRIBE', { id: '1', destination: '/queue/xp.amqp.in' });
      const sender = conn.open_sender('/queue/xp.amqp.in');
      await new Promise<void>((resolve) => sender.once('sendable', () => resolve()));
      sender.send({ body: rhea.message.data_section(Buffer.from('from amqp')), correlation_id: 'amqp-c', application_properties: { tenant: 'a' } });
      const m = await stomp.expect('MESSAGE');
      assert.equal(m.body.toString(), 'from amqp');
      assert.equal(m.headers['correlation-id'], 'amqp-c');
      assert.equal(m.headers.tenant, 'a');

      const got: rhea.Message[] = [];
      const receiver = conn.open_receiver('/queue/xp.amqp.out');
      receiver.on('message', (ctx) => got.push(ctx.message!));
      await new Promise<void>((resolve) => receiver.once('receiver_open', () => resolve()));
      await stomp.sendWithReceipt('SEND', { destination: '/queue/xp.amqp.out', 'x-h': 'v' }, 'to amqp');
      await eventually(() => got.length === 1, { what: 'AMQP message' });
      const body = got[0].body as { typecode?: number; content?: Buffer } | Buffer | string;
      const bytes = Buffer.isBuffer(body) ? body : typeof body === 'string' ? Buffer.from(body) : Buffer.from(body.content ?? []);
      assert.equal(bytes.toString(), 'to amqp');
      assert.equal(got[0].application_properties?.['x-h'], 'v');
    } finally {
      conn.close();
      await stomp.disconnect();
    }
  });

  it('STOMP SEND /topic/T -> Kafka consumer of topic T; Kafka producer -> STOMP x-stream-offset', async () => {
    const port = need('kafka');
    const topic = 'xp.kafka';
    await s.b.broker.createStream(topic, { partitions: 1 });
    const stomp = await RawStomp.connect(s.port);
    const kafka = new Kafka({ clientId: 'xp', brokers: [`127.0.0.1:${port}`], logLevel: logLevel.NOTHING, retry: { retries: 2 } });
    const consumer = kafka.consumer({ groupId: 'xp-group' });
    const producer = kafka.producer();
    try {
      await stomp.sendWithReceipt('SEND', { destination: `/topic/${topic}`, 'content-type': 'application/json', 'x-trace': 't1' }, '{"n":1}');
      await consumer.connect();
      await consumer.subscribe({ topic, fromBeginning: true });
      const got: Array<{ value: Buffer | null; headers?: Record<string, unknown> }> = [];
      await consumer.run({ eachMessage: async ({ message }) => { got.push(message as never); } });
      await eventually(() => got.length >= 1, { timeout: 20000, what: 'Kafka record' });
      assert.equal(got[0].value!.toString(), '{"n":1}');
      assert.equal(String(got[0].headers?.['x-trace']), 't1');
      assert.equal(String(got[0].headers?.['content-type']), 'application/json');

      await producer.connect();
      await producer.send({ topic, messages: [{ key: 'k1', value: 'from kafka', headers: { h: 'v' } }] });
      await stomp.sendWithReceipt('SUBSCRIBE', { id: 'replay', destination: `/topic/${topic}`, 'x-stream-offset': 'first' });
      const first = await stomp.expect('MESSAGE');
      const second = await stomp.expect('MESSAGE');
      assert.equal(first.body.toString(), '{"n":1}');
      assert.equal(second.body.toString(), 'from kafka');
      assert.equal(second.headers['x-key'], 'k1');
      assert.equal(second.headers.h, 'v');
      assert.equal(second.headers['x-stream-offset'], '1');
    } finally {
      await consumer.disconnect().catch(() => undefined);
      await producer.disconnect().catch(() => undefined);
      await stomp.disconnect();
    }
  });
});
