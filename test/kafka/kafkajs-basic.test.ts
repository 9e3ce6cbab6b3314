/** kafkajs against the Kafka adapter: produce, fetch, metadata, ApiVersions end to end. */
import assert from 'node:assert/strict';
import { CompressionTypes, kafkajs, startKafka, type KafkaTestBroker } from './support.js';
import { eventually } from '../support/index.js';

describe('kafka: kafkajs produce and consume', function () {
  this.timeout(60000);
  let b: KafkaTestBroker;
  beforeEach(async () => { b = await startKafka(); });
  afterEach(async () => { await b.close(); });

  it('produces with keys and explicit partitions and reads them back from the beginning', async () => {
    const k = kafkajs(b.bootstrap);
    const admin = k.admin();
    await admin.connect();
    assert.equal(await admin.createTopics({ topics: [{ topic: 'orders', numPartitions: 2 }] }), true);
    const producer = k.producer();
    await producer.connect();
    const res = await producer.send({
      topic: 'orders', acks: -1,
      messages: [
        { key: 'a', value: 'one', partition: 0, headers: { h: 'v' } },
        { key: 'b', value: 'two', partition: 1 },
        { key: 'c', value: 'three', partition: 1 },
      ],
    });
    assert.deepEqual(res.map((r) => [r.partition, r.errorCode, r.baseOffset]).sort(), [[0, 0, '0'], [1, 0, '0']]);
    const consumer = k.consumer({ groupId: 'g1', maxWaitTimeInMs: 100 });
    await consumer.connect();
    await consumer.subscribe({ topic: 'orders', fromBeginning: true });
    const got: string[] = [];
    await consumer.run({ eachMessage: async ({ partition, message }) => { got.push(`${partition}:${message.offset}:${message.key}=${message.value}:${message.headers?.h ?? ''}`); } });
    await eventually(() => got.length === 3, { timeout: 20000, what: 'three records' });
    assert.deepEqual(got.sort(), ['0:0:a=one:v', '1:0:b=two:', '1:1:c=three:']);
    await consumer.disconnect();
    await producer.disconnect();
    await admin.disconnect();
  });

  it('auto-creates a topic on produce and honours acks 0, 1 and -1', async () => {
    const k = kafkajs(b.bootstrap);
    const producer = k.producer();
    await producer.connect();
    for (const acks of [1, -1]) await producer.send({ topic: 'auto', acks, messages: [{ value: `acks${acks}` }] });
    await producer.send({ topic: 'auto', acks: 0, messages: [{ value: 'acks0' }] });
    await eventually(() => b.broker.getStream('auto')!.partition(0)!.highWatermark === 3, { timeout: 5000, what: 'acks=0 record stored' });
    const admin = k.admin();
    await admin.connect();
    const offsets = await admin.fetchTopicOffsets('auto');
    assert.deepEqual(offsets.map((o) => [o.partition, o.low, o.high]), [[0, '0', '3']]);
    await admin.disconnect();
    await producer.disconnect();
  });

  for (const [name, type] of [['gzip', CompressionTypes.GZIP], ['snappy', CompressionTypes.Snappy], ['lz4', CompressionTypes.LZ4], ['zstd', CompressionTypes.ZSTD]] as const) {
    it(`round-trips ${name}-compressed batches, stored compressed`, async () => {
      const k = kafkajs(b.bootstrap);
      const producer = k.producer();
      await producer.connect();
      const messages = Array.from({ length: 50 }, (_, i) => ({ key: `k${i}`, value: `value ${i} `.repeat(20) }));
      await producer.send({ topic: `c-${name}`, compression: type, messages });
      const [batch] = await b.broker.getStream(`c-${name}`)!.partition(0)!.read(0, 1 << 20);
      assert.equal(batch.readInt16BE(21) & 7, type, 'stored with the producer\'s codec');
      const consumer = k.consumer({ groupId: `g-${name}`, maxWaitTimeInMs: 100 });
      await consumer.connect();
      await consumer.subscribe({ topic: `c-${name}`, fromBeginning: true });
      const got: string[] = [];
      await consumer.run({ eachMessage: async ({ message }) => { got.push(message.value!.toString()); } });
      await eventually(() => got.length === 50, { timeout: 20000, what: '50 records' });
      assert.deepEqual(got, messages.map((m) => m.value));
      await consumer.disconnect();
      await producer.disconnect();
    });
  }
});
