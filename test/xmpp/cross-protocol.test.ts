/**
 * Cross-protocol paths on the whole broker (startBroker with every adapter that exists):
 * an MQTT publish becomes an XMPP pubsub event, an XMPP pubsub publish reaches a Kafka consumer.
 * A path whose adapter does not exist yet is skipped with a message.
 */
import assert from 'node:assert/strict';
import type { Client } from '@xmpp/client';
import { Kafka, logLevel } from 'kafkajs';
import mqtt from 'mqtt';
import { startBroker, type RunningBroker } from '../support/broker.js';
import { login, nextStanza, stopAll, xmlEl } from './helpers.js';

const NS_PUBSUB = 'http://jabber.org/protocol/pubsub';

describe('xmpp cross-protocol (whole broker)', function () {
  this.timeout(60000);
  let b: RunningBroker;
  let x: Client | undefined;

  before(async () => {
    b = await startBroker();
    await b.auth.register?.('xalice', 'xalice-pw');
  });
  after(async () => {
    await stopAll(x);
    await b?.close();
  });

  it('MQTT publish on sensors/room1/temp -> XMPP event for node sensors.room1.temp', async () => {
    x = await login(b.ports.xmpp!, 'xalice', 'xalice-pw', { presence: true });
    await x.iqCaller.set(xmlEl('pubsub', { xmlns: NS_PUBSUB }, xmlEl('subscribe', { node: 'sensors.room1.temp', jid: 'xalice@localhost' })), 'pubsub.localhost');
    const ev = nextStanza(x, (s) => s.getChild('event')?.getChild('items')?.attrs.node === 'sensors.room1.temp', 10000);
    const m = await mqtt.connectAsync(`mqtt://127.0.0.1:${b.ports.mqtt}`, { protocolVersion: 5 });
    await m.publishAsync('sensors/room1/temp', Buffer.from('22.5'), { qos: 1, properties: { contentType: 'text/plain' } });
    await m.endAsync();
    const payload = (await ev).getChild('event')!.getChild('items')!.getChild('item')!.getChild('payload', 'urn:junction:payload:0')!;
    assert.equal(payload.text(), '22.5');
    assert.equal(payload.attrs['content-type'], 'text/plain');
  });

  it('XMPP publish on node orders.xmpp -> Kafka consumer of topic orders.xmpp', async () => {
    const kafka = new Kafka({ brokers: [`127.0.0.1:${b.ports.kafka}`], clientId: 'xmpp-test', logLevel: logLevel.NOTHING });
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic: 'orders.xmpp', numPartitions: 1 }] });
    await admin.disconnect();
    x ??= await login(b.ports.xmpp!, 'xalice', 'xalice-pw', { presence: true });
    await x.iqCaller.set(xmlEl('pubsub', { xmlns: NS_PUBSUB }, xmlEl('publish', { node: 'orders.xmpp' },
      xmlEl('item', { id: 'ord-1' }, xmlEl('json', { xmlns: 'urn:xmpp:json:0' }, '{"order":1}')))), 'pubsub.localhost');
    const consumer = kafka.consumer({ groupId: 'xmpp-cross' });
    await consumer.connect();
    await consumer.subscribe({ topic: 'orders.xmpp', fromBeginning: true });
    const got = await new Promise<{ value: string; headers: Record<string, string> }>((resolve) => {
      void consumer.run({
        eachMessage: async ({ message }) => {
          const headers = Object.fromEntries(Object.entries(message.headers ?? {}).map(([k, v]) => [k, String(v)]));
          resolve({ value: message.value!.toString(), headers });
        },
      });
    });
    await consumer.disconnect();
    assert.equal(got.value, '{"order":1}');
    assert.equal(got.headers['content-type'], 'application/json');
    assert.equal(got.headers['message-id'], 'ord-1');
  });
});
