/**
 * One message, every protocol: what one protocol publishes reaches the others with the same
 * payload bytes and the mapped fields of docs/mapping.md (headers, content type, correlation id,
 * reply-to). Real clients over loopback against one broker with every adapter.
 */
import assert from 'node:assert/strict';
import type { Client as StompClient } from '@stomp/stompjs';
import type { MqttClient } from 'mqtt';
import type { Connection } from 'rhea';
import { eventually, type RunningBroker, startBroker } from '../support/index.js';
import {
  amqpCollect, amqpConnection, amqpData, amqpSend, kafka, kafkaCollector, mqttClient, stompClient, stompCollect,
} from './clients.js';

/** Every byte value, so nothing re-encodes the payload on the way. */
const BINARY = Buffer.from(Array.from({ length: 256 }, (_, i) => i));

describe('cross-protocol: one message through every adapter', function () {
  this.timeout(60_000);
  let b: RunningBroker;
  let mq: MqttClient;
  let stomp: StompClient;
  let amqp: Connection;

  before(async () => {
    b = await startBroker();
    mq = await mqttClient(b, 'cross-mqtt');
    stomp = await stompClient(b);
    amqp = await amqpConnection(b);
  });

  after(async () => {
    await mq?.endAsync();
    await stomp?.deactivate();
    amqp?.close();
    await b?.close();
  });

  it('MQTT 5 publish reaches Kafka, STOMP and AMQP with payload and properties mapped', async () => {
    const admin = kafka(b).admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic: 'plant.line1.temp', numPartitions: 1 }] });
    await admin.disconnect();
    const k = await kafkaCollector(b, 'plant.line1.temp', 'cross-k1');
    const s = stompCollect(stomp, '/topic/plant.*.temp');
    const a = await amqpCollect(amqp, '/topic/plant.#');
    await new Promise((r) => setTimeout(r, 100)); // STOMP SUBSCRIBE has no reply; let it arrive
    await mq.publishAsync('plant/line1/temp', BINARY, {
      qos: 1,
      properties: {
        contentType: 'application/octet-stream',
        correlationData: Buffer.from('corr-1'),
        responseTopic: 'plant/replies',
        userProperties: { unit: 'celsius' },
      },
    });
    await eventually(() => k.got.length === 1 && s.length === 1 && a.length === 1, { what: 'all three consumers' });

    const rec = k.got[0].message;
    assert.deepEqual(rec.value, BINARY);
    assert.equal(rec.headers?.unit?.toString(), 'celsius');
    assert.equal(rec.headers?.['content-type']?.toString(), 'application/octet-stream');
    assert.equal(rec.headers?.['correlation-id']?.toString(), 'corr-1');
    assert.equal(rec.headers?.['reply-to']?.toString(), '/topic/plant.replies');

    assert.deepEqual(Buffer.from(s[0].binaryBody), BINARY);
    assert.equal(s[0].headers.unit, 'celsius');
    assert.equal(s[0].headers['content-type'], 'application/octet-stream');
    assert.equal(s[0].headers['correlation-id'], 'corr-1');
    assert.equal(s[0].headers['reply-to'], '/topic/plant.replies');

    const am = a[0];
    assert.deepEqual(Buffer.from((am.body as { content: Buffer }).content), BINARY, 'a single data section');
    assert.equal(am.application_properties?.unit, 'celsius');
    assert.equal(am.content_type, 'application/octet-stream');
    assert.equal(Buffer.isBuffer(am.correlation_id) ? am.correlation_id.toString() : am.correlation_id, 'corr-1');
    assert.equal(am.reply_to, '/topic/plant.replies');
    await k.consumer.disconnect();
  });

  it('a Kafka record reaches MQTT 5 and STOMP subscribers with its headers', async () => {
    const got: Array<{ topic: string; payload: Buffer; packet: { properties?: { userProperties?: Record<string, unknown>; contentType?: string } } }> = [];
    mq.on('message', (topic, payload, packet) => got.push({ topic, payload, packet: packet as never }));
    await mq.subscribeAsync('orders/#', { qos: 1 });
    const s = stompCollect(stomp, '/topic/orders.eu');
    await new Promise((r) => setTimeout(r, 100));
    const producer = kafka(b).producer();
    await producer.connect();
    await producer.send({ topic: 'orders.eu', acks: -1, messages: [{ key: 'o-1', value: BINARY, headers: { region: 'eu', 'content-type': 'application/x-order' } }] });
    await producer.disconnect();
    await eventually(() => got.length === 1 && s.length === 1, { what: 'MQTT and STOMP deliveries' });
    assert.equal(got[0].topic, 'orders/eu');
    assert.deepEqual(got[0].payload, BINARY);
    assert.equal(got[0].packet.properties?.userProperties?.region, 'eu');
    assert.equal(got[0].packet.properties?.contentType, 'application/x-order');
    assert.deepEqual(Buffer.from(s[0].binaryBody), BINARY);
    assert.equal(s[0].headers.region, 'eu');
    assert.equal(s[0].headers['content-type'], 'application/x-order');
  });

  it('a STOMP send into a queue is consumed by an AMQP service', async () => {
    const a = await amqpCollect(amqp, '/queue/jobs');
    stomp.publish({ destination: '/queue/jobs', body: 'job-1', headers: { persistent: 'true', 'correlation-id': 'c-9', 'reply-to': '/queue/answers', priority: '7', tenant: 'acme', 'content-type': 'text/plain' } });
    await eventually(() => a.length === 1, { what: 'AMQP delivery' });
    const m = a[0];
    const body = m.body as unknown;
    const text = typeof body === 'string' ? body : Buffer.from((body as { content: Buffer }).content).toString();
    assert.equal(text, 'job-1');
    assert.equal(m.correlation_id, 'c-9');
    assert.equal(m.reply_to, '/queue/answers');
    assert.equal(m.application_properties?.tenant, 'acme');
    assert.equal(m.content_type, 'text/plain');
    assert.equal(m.priority, 7);
    assert.equal(m.durable, true);
  });

  it('an AMQP send to a topic reaches MQTT and lands in the Kafka stream of that topic', async () => {
    const admin = kafka(b).admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic: 'alerts.fire', numPartitions: 2 }] });
    await admin.disconnect();
    const got: Buffer[] = [];
    const mq2 = await mqttClient(b, 'cross-mqtt-2');
    mq2.on('message', (_t, payload) => got.push(payload));
    await mq2.subscribeAsync('alerts/+', { qos: 1 });
    const k = await kafkaCollector(b, 'alerts.fire', 'cross-k2');
    await amqpSend(amqp, '/topic/alerts.fire', { body: amqpData(BINARY), application_properties: { zone: 3 }, content_type: 'application/octet-stream', durable: true });
    await eventually(() => got.length === 1 && k.got.length === 1, { what: 'MQTT and Kafka deliveries' });
    assert.deepEqual(got[0], BINARY);
    assert.deepEqual(k.got[0].message.value, BINARY);
    assert.equal(k.got[0].message.headers?.zone?.toString(), '3');
    await k.consumer.disconnect();
    await mq2.endAsync();
  });
});
