/**
 * Cross-protocol paths through the core: what other adapters put in the core reaches AMQP
 * consumers as one data section with the fields mapped, and what AMQP producers send lands in core
 * queues and streams with the fields other protocols read. (test/cross covers the same paths with
 * the MQTT, STOMP and Kafka clients.)
 */
import assert from 'node:assert/strict';
import rhea from 'rhea';
import { createMessage } from '../../core/message.js';
import { StreamCursor } from '../../core/stream/stream-cursor.js';
import { brokerPerTest, type Harness, openReceiver, openSender, receive, send } from './helpers.js';
import { eventually } from '../support/index.js';

describe('amqp cross-protocol paths', function () {
  let h: Harness;
  let c: rhea.Connection;
  brokerPerTest((broker, connection) => {
    h = broker;
    c = connection;
  });

  it('a core publish (another protocol) reaches an AMQP topic receiver as one data section', async () => {
    const r = await openReceiver(c, '/topic/plant.#');
    const got = receive(r, 1);
    const payload = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
    await h.broker.publish(createMessage({
      topic: 'plant.line1.temp', payload, source: 'mqtt', text: true, durable: true, priority: 6,
      headers: { unit: 'celsius', count: 3, big: 5n, ok: true },
      contentType: 'application/octet-stream', correlationId: Buffer.from('corr'), replyTo: '/topic/plant.replies',
      key: Buffer.from('line1'), messageId: 'm-1',
    }));
    const [m] = (await got).map((g) => g.message);
    const bodySection = m.body as { typecode: number; content: Buffer };
    assert.equal(bodySection.typecode, 0x75);
    assert.deepEqual(bodySection.content, payload);
    assert.deepEqual(m.application_properties, { unit: 'celsius', count: 3, big: 5, ok: true });
    assert.equal(m.content_type, 'application/octet-stream');
    assert.deepEqual(m.correlation_id, Buffer.from('corr'));
    assert.equal(m.reply_to, '/topic/plant.replies');
    assert.equal(m.message_id, 'm-1');
    assert.equal(m.to, '/topic/plant.line1.temp');
    assert.equal(m.durable, true);
    assert.equal(m.priority, 6);
    assert.equal(m.message_annotations?.['x-opt-partition-key'], 'line1');
  });

  it('a core send to a queue reaches an AMQP queue receiver with to = /queue/NAME', async () => {
    await h.broker.declareQueue('jobs');
    const r = await openReceiver(c, '/queue/jobs');
    const got = receive(r, 1);
    await h.broker.sendToQueue('jobs', createMessage({ topic: 'jobs', payload: Buffer.from('job-1'), source: 'stomp', text: true }));
    const [m] = (await got).map((g) => g.message);
    assert.deepEqual((m.body as { content: Buffer }).content, Buffer.from('job-1'));
    assert.equal(m.to, '/queue/jobs');
  });

  it('a core message AMQP cannot encode is dead-lettered; the publisher and the link are unaffected', async () => {
    await h.broker.declareQueue('weird');
    const r = await openReceiver(c, '/queue/weird');
    const got = receive(r, 1);
    const bad = createMessage({ topic: 'weird', payload: Buffer.from('x'), headers: { odd: { nested: true } as never } });
    await h.broker.sendToQueue('weird', bad);
    await eventually(() => (h.broker.getQueue('weird.dlq')?.messageCount ?? 0) === 1);
    await h.broker.sendToQueue('weird', createMessage({ topic: 'weird', payload: Buffer.from('fine') }));
    assert.deepEqual((await got).map((g) => (g.message.body as { content: Buffer }).content.toString()), ['fine']);
  });

  it('an AMQP send lands in a core queue with the fields other protocols read', async () => {
    const s = await openSender(c, '/queue/core-q');
    assert.equal(await send(s, {
      body: rhea.message.data_section(Buffer.from([1, 2, 3])), durable: true, priority: 8, ttl: 60000,
      message_id: 'id-1', correlation_id: 'c-1', reply_to: 'queue://answers', content_type: 'application/x-bin', content_encoding: 'deflate',
      application_properties: { tenant: 'acme', n: 7, flag: false }, message_annotations: { 'x-opt-partition-key': 'k-1' },
    }), 'accepted');
    const [entry] = h.broker.getQueue('core-q')!.peekEntries(1);
    const m = entry.message!;
    assert.equal(m.topic, 'core-q');
    assert.equal(m.source, 'amqp');
    assert.deepEqual(m.payload, Buffer.from([1, 2, 3]));
    assert.equal(m.text, undefined);
    assert.equal(m.durable, true);
    assert.equal(m.priority, 8);
    assert.ok(m.expiry !== undefined && m.expiry > Date.now());
    assert.equal(m.messageId, 'id-1');
    assert.equal(m.correlationId, 'c-1');
    assert.equal(m.replyTo, '/queue/answers');
    assert.equal(m.contentType, 'application/x-bin');
    assert.equal(m.contentEncoding, 'deflate');
    assert.deepEqual(m.headers, { tenant: 'acme', n: 7, flag: false });
    assert.deepEqual(m.key, Buffer.from('k-1'));
  });

  it('an AMQP text message (amqp-value string) is UTF-8 text in the core', async () => {
    const s = await openSender(c, '/queue/text-q');
    await send(s, { body: 'grüße' });
    const [entry] = h.broker.getQueue('text-q')!.peekEntries(1);
    assert.deepEqual(entry.message!.payload, Buffer.from('grüße'));
    assert.equal(entry.message!.text, true);
  });

  it('an AMQP publish to a topic a stream collects is appended to the stream (Kafka consumers read it)', async () => {
    const stream = await h.broker.createStream('metrics', { patterns: ['metrics.#'], partitions: 1 });
    const s = await openSender(c, '/topic/metrics.cpu');
    assert.equal(await send(s, { body: rhea.message.data_section(Buffer.from('42')), application_properties: { host: 'a' }, durable: true }), 'accepted');
    const cursor = await StreamCursor.open(stream, 'first');
    let read: Awaited<ReturnType<StreamCursor['poll']>> = [];
    await eventually(() => stream.partitions[0].highWatermark > 0);
    read = await cursor.poll(10);
    assert.equal(read.length, 1);
    assert.deepEqual(read[0].message.payload, Buffer.from('42'));
    assert.equal(read[0].message.headers.host?.toString(), 'a');
    cursor.close();
  });
});
