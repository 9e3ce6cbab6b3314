/**
 * Kafka topics are core streams: a core publish to T reaches a Kafka consumer of T (payload bytes,
 * key, headers and the mapped fields as record headers), and a Kafka record reaches a core queue
 * bound to T (decoded from the stored batch, compressed or not). Each row of docs/kafka.md's
 * mapping table is checked here.
 */
import assert from 'node:assert/strict';
import { createMessage, type Message } from '../../core/message.js';
import { CompressionTypes, kafkajs, startKafka, type KafkaTestBroker } from './support.js';
import { eventually } from '../support/index.js';

describe('kafka: cross-protocol mapping', function () {
  this.timeout(60000);
  let b: KafkaTestBroker;
  beforeEach(async () => { b = await startKafka(); });
  afterEach(async () => { await b.close(); });

  it('a core message published to T reaches a kafkajs consumer of T with its headers', async () => {
    await b.broker.createStream('sensors.room1', { partitions: 1 });
    const payload = Buffer.from([0, 1, 2, 250, 255]);
    await b.broker.publish(createMessage({
      topic: 'sensors.room1', payload, key: Buffer.from('dev-7'), source: 'mqtt', durable: true, timestamp: 1_700_000_000_123,
      headers: { unit: 'celsius', seq: 42, flag: true }, contentType: 'application/octet-stream', correlationId: 'corr-1', replyTo: '/queue/replies', messageId: 'm-1',
    }));
    const consumer = kafkajs(b.bootstrap).consumer({ groupId: 'x', maxWaitTimeInMs: 100 });
    await consumer.connect();
    await consumer.subscribe({ topic: 'sensors.room1', fromBeginning: true });
    const got: Array<{ key: Buffer | null; value: Buffer | null; headers: Record<string, unknown>; timestamp: string }> = [];
    await consumer.run({ eachMessage: async ({ message }) => { got.push({ key: message.key, value: message.value, headers: message.headers ?? {}, timestamp: message.timestamp }); } });
    await eventually(() => got.length === 1, { timeout: 20000, what: 'the core message' });
    await consumer.disconnect();
    const [m] = got;
    assert.deepEqual(m.value, payload, 'payload bytes unchanged');
    assert.equal(m.key!.toString(), 'dev-7');
    assert.equal(m.timestamp, '1700000000123');
    const headers = Object.fromEntries(Object.entries(m.headers).map(([k, v]) => [k, (v as Buffer).toString()]));
    assert.deepEqual(headers, {
      unit: 'celsius', seq: '42', flag: 'true', 'content-type': 'application/octet-stream', 'correlation-id': 'corr-1', 'reply-to': '/queue/replies', 'message-id': 'm-1',
    });
  });

  for (const [codec, type] of [['uncompressed', CompressionTypes.None], ['zstd', CompressionTypes.ZSTD]] as const) {
    it(`a kafkajs record (${codec}) reaches a core queue bound to T with key, headers and mapped fields`, async () => {
      await b.broker.createStream('orders', { partitions: 2 });
      await b.broker.declareQueue('audit', { durable: true });
      await b.broker.bindQueue('audit', 'orders');
      const received: Message[] = [];
      b.broker.getQueue('audit')!.consume({ prefetch: 0, autoAck: true, creditMode: false }, (d) => { received.push(d.message); });
      const producer = kafkajs(b.bootstrap).producer();
      await producer.connect();
      await producer.send({
        topic: 'orders', compression: type,
        messages: [{ key: 'order-1', value: Buffer.from('{"total":5}'), partition: 1, timestamp: '1700000000000', headers: { 'content-type': 'application/json', 'correlation-id': 'c9', tenant: 'acme' } }],
      });
      await producer.disconnect();
      await eventually(() => received.length === 1, { timeout: 10000, what: 'the record in the queue' });
      const [m] = received;
      assert.equal(m.topic, 'orders');
      assert.equal(m.payload.toString(), '{"total":5}');
      assert.equal(m.key!.toString(), 'order-1');
      assert.equal(m.contentType, 'application/json');
      assert.equal(m.correlationId, 'c9');
      assert.deepEqual(m.headers, { tenant: 'acme' });
      assert.equal(m.timestamp, 1700000000000);
      assert.equal(m.source, 'kafka');
      assert.equal(m.durable, true);
    });
  }
});
