/** MQTT 5: properties, topic aliases, flow control, packet size, subscription options, reason codes, CONNACK extras. */
import assert from 'node:assert/strict';
import type mqttPacket from 'mqtt-packet';
import { connect, connectInbox, endAll, Inbox, rawConnected, startMqtt, uid, type MqttTestBroker } from './helpers.js';

const publish = (topic: string, payload: string | Buffer, qos: 0 | 1 | 2, messageId?: number, properties?: mqttPacket.IPublishPacket['properties']): mqttPacket.IPublishPacket =>
  ({ cmd: 'publish', topic, payload: Buffer.from(payload), qos, messageId, retain: false, dup: false, properties });

describe('mqtt 5', () => {
  let t: MqttTestBroker;
  before(async () => { t = await startMqtt({ mqtt: { maxKeepAlive: 30, topicAliasMaximum: 4, maxPacketSize: 4096 } }); });
  afterEach(endAll);
  after(async () => { await t.close(); });

  const v5 = { protocolVersion: 5 as const };

  describe('properties', () => {
    it('carries user properties, content type, payload format, response topic, correlation data, expiry', async () => {
      const topic = `props/${uid()}`;
      const sub = await connect(t.url, v5);
      const inbox = new Inbox(sub);
      await sub.subscribeAsync(topic, { qos: 1 });
      const pub = await connect(t.url, v5);
      await pub.publishAsync(topic, '{"a":1}', {
        qos: 1,
        properties: {
          userProperties: { k: 'v', multi: ['1', '2'] }, contentType: 'application/json', payloadFormatIndicator: true,
          responseTopic: 'reply/to.me', correlationData: Buffer.from([1, 2, 3]), messageExpiryInterval: 120,
        },
      });
      const p = (await inbox.next()).packet.properties!;
      assert.deepEqual({ ...p.userProperties }, { k: 'v', multi: ['1', '2'] });
      assert.equal(p.contentType, 'application/json');
      assert.equal(p.payloadFormatIndicator, true);
      assert.equal(p.responseTopic, 'reply/to.me');
      assert.deepEqual(p.correlationData, Buffer.from([1, 2, 3]));
      assert.ok(p.messageExpiryInterval! <= 120 && p.messageExpiryInterval! >= 1);
    });

    it('maps onto core fields (a core consumer sees them)', async () => {
      const topic = `coremap/${uid()}`;
      const q = `mqtt-test-${uid()}`;
      await t.b.broker.declareQueue(q, {});
      await t.b.broker.bindQueue(q, topic.replaceAll('/', '.'));
      const pub = await connect(t.url, v5);
      await pub.publishAsync(topic, 'x', { qos: 1, properties: { userProperties: { h: 'v' }, contentType: 'text/plain', correlationData: Buffer.from('id1'), responseTopic: 'r/1', messageExpiryInterval: 60, payloadFormatIndicator: true } });
      const m = t.b.broker.getQueue(q)!.peekEntries(1)[0].message!;
      assert.deepEqual(m.headers, { h: 'v' });
      assert.equal(m.contentType, 'text/plain');
      assert.deepEqual(m.correlationId, Buffer.from('id1'));
      assert.equal(m.replyTo, '/topic/r.1');
      assert.equal(m.text, true);
      assert.equal(m.durable, true);
      assert.ok(m.expiry! > Date.now() && m.expiry! <= Date.now() + 60_000);
      await t.b.broker.deleteQueue(q);
    });

    it('does not deliver a message whose expiry passed while the session was offline', async () => {
      const clientId = uid('exp');
      const topic = `expire/${clientId}`;
      const c = await connect(t.url, { ...v5, clientId, clean: false, properties: { sessionExpiryInterval: 60 } });
      await c.subscribeAsync(topic, { qos: 1 });
      await c.endAsync();
      const pub = await connect(t.url, v5);
      await pub.publishAsync(topic, 'short', { qos: 1, properties: { messageExpiryInterval: 1 } });
      await pub.publishAsync(topic, 'long', { qos: 1, properties: { messageExpiryInterval: 600 } });
      await new Promise((r) => setTimeout(r, 1100));
      const { inbox } = await connectInbox(t.url, { ...v5, clientId, clean: false, properties: { sessionExpiryInterval: 60 } });
      assert.equal((await inbox.next()).payload.toString(), 'long');
      assert.ok(await inbox.quiet(200));
    });

    it('request / response between MQTT 5 clients (response topic + correlation data)', async () => {
      const service = await connect(t.url, v5);
      const svcTopic = `svc/${uid()}`;
      await service.subscribeAsync(svcTopic, { qos: 1 });
      service.on('message', (_topic, payload, packet) => {
        void service.publishAsync(packet.properties!.responseTopic!, `re:${payload.toString()}`, { qos: 1, properties: { correlationData: packet.properties!.correlationData } });
      });
      const client = await connect(t.url, v5);
      const inbox = new Inbox(client);
      const replyTopic = `replies/${uid()}`;
      await client.subscribeAsync(replyTopic, { qos: 1 });
      await client.publishAsync(svcTopic, 'ping', { qos: 1, properties: { responseTopic: replyTopic, correlationData: Buffer.from('c-42') } });
      const reply = await inbox.next();
      assert.equal(reply.payload.toString(), 're:ping');
      assert.deepEqual(reply.packet.properties?.correlationData, Buffer.from('c-42'));
    });
  });

  describe('CONNACK', () => {
    it('assigns a client identifier, announces limits, server keep alive and response information', async () => {
      const r = await rawConnected(t.port, 5, { clientId: '', keepalive: 120, properties: { requestResponseInformation: true } });
      const ack = r.packets[0] as mqttPacket.IConnackPacket;
      assert.equal(ack.reasonCode, 0);
      const id = ack.properties!.assignedClientIdentifier!;
      assert.match(id, /^junction-/);
      assert.equal(ack.properties!.serverKeepAlive, 30);
      assert.equal(ack.properties!.responseInformation, `response/${id}`);
      assert.equal(ack.properties!.topicAliasMaximum, 4);
      assert.equal(ack.properties!.maximumPacketSize, 4096);
      assert.equal(ack.properties!.receiveMaximum, 1024);
      r.close();
    });

    it('refuses an authentication method it does not support (0x8C)', async () => {
      const r = await import('./helpers.js').then((h) => h.raw(t.port, 5));
      r.send({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 5, clean: true, keepalive: 0, clientId: uid(), properties: { authenticationMethod: 'GS2-KRB5' } } as mqttPacket.IConnectPacket);
      const ack = await r.nextPacket() as mqttPacket.IConnackPacket;
      assert.equal(ack.reasonCode, 0x8c);
      await r.closed;
    });
  });

  describe('topic aliases', () => {
    it('inbound: an alias set with a topic is used for later PUBLISHes with an empty topic', async () => {
      const topic = `alias/${uid()}`;
      const sub = await connect(t.url, v5);
      const inbox = new Inbox(sub);
      await sub.subscribeAsync(topic, { qos: 1 });
      const r = await rawConnected(t.port, 5);
      r.send(publish(topic, 'one', 1, 1, { topicAlias: 2 }));
      r.send(publish('', 'two', 1, 2, { topicAlias: 2 }));
      const got = await inbox.waitCount(2);
      assert.deepEqual(got.map((m) => [m.topic, m.payload.toString()]), [[topic, 'one'], [topic, 'two']]);
      r.close();
    });

    it('inbound: an alias beyond the maximum is 0x94, an unknown one 0x82', async () => {
      const r = await rawConnected(t.port, 5);
      r.send(publish('x/y', 'z', 0, undefined, { topicAlias: 5 }));
      const d = await r.nextPacket() as mqttPacket.IDisconnectPacket;
      assert.equal(d.cmd, 'disconnect');
      assert.equal(d.reasonCode, 0x94);
      await r.closed;
      const r2 = await rawConnected(t.port, 5);
      r2.send(publish('', 'z', 0, undefined, { topicAlias: 1 }));
      assert.equal(((await r2.nextPacket()) as mqttPacket.IDisconnectPacket).reasonCode, 0x82);
      await r2.closed;
    });

    it('outbound: the broker uses aliases up to the client\'s maximum', async () => {
      const topic = `outalias/${uid()}`;
      const r = await rawConnected(t.port, 5, { properties: { topicAliasMaximum: 3 } });
      r.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic, qos: 0 }] } as mqttPacket.ISubscribePacket);
      await r.nextPacket();
      const pub = await connect(t.url, v5);
      await pub.publishAsync(topic, 'a', { qos: 1 });
      await pub.publishAsync(topic, 'b', { qos: 1 });
      const p1 = await r.nextPacket() as mqttPacket.IPublishPacket;
      const p2 = await r.nextPacket() as mqttPacket.IPublishPacket;
      assert.equal(p1.topic, topic);
      assert.equal(p1.properties?.topicAlias, 1);
      assert.equal(p2.topic, '');
      assert.equal(p2.properties?.topicAlias, 1);
      r.close();
    });

    it('outbound aliases are transparent to an MQTT.js client', async () => {
      const topic = `outalias2/${uid()}`;
      const sub = await connect(t.url, { ...v5, properties: { topicAliasMaximum: 10 } });
      const inbox = new Inbox(sub);
      await sub.subscribeAsync(topic, { qos: 1 });
      const pub = await connect(t.url, v5);
      for (let i = 0; i < 3; i++) await pub.publishAsync(topic, `${i}`, { qos: 1 });
      assert.deepEqual((await inbox.waitCount(3)).map((m) => m.topic), [topic, topic, topic]);
    });
  });

  describe('flow control', () => {
    it('respects the client\'s receive maximum', async () => {
      const topic = `rm/${uid()}`;
      const r = await rawConnected(t.port, 5, { properties: { receiveMaximum: 2 } });
      r.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic, qos: 1 }] } as mqttPacket.ISubscribePacket);
      await r.nextPacket();
      const pub = await connect(t.url, v5);
      for (let i = 0; i < 5; i++) await pub.publishAsync(topic, `${i}`, { qos: 1 });
      const a = await r.nextPacket() as mqttPacket.IPublishPacket;
      const b = await r.nextPacket() as mqttPacket.IPublishPacket;
      await assert.rejects(r.nextPacket(300), /no packet/);
      r.send({ cmd: 'puback', messageId: a.messageId });
      const c = await r.nextPacket() as mqttPacket.IPublishPacket;
      assert.deepEqual([a, b, c].map((p) => p.payload.toString()), ['0', '1', '2']);
      r.send({ cmd: 'puback', messageId: b.messageId });
      r.send({ cmd: 'puback', messageId: c.messageId });
      const rest = [await r.nextPacket(), await r.nextPacket()] as mqttPacket.IPublishPacket[];
      assert.deepEqual(rest.map((p) => p.payload.toString()), ['3', '4']);
      r.close();
    });

    it('with enforceReceiveMaximum, a client exceeding the broker\'s receive maximum gets 0x93', async () => {
      const strict = await startMqtt({ mqtt: { receiveMaximum: 2, enforceReceiveMaximum: true } });
      try {
        await strict.b.broker.declareQueue('slow', { durable: true });
        await strict.b.broker.bindQueue('slow', 'rmx.#');
        const r = await rawConnected(strict.port, 5);
        r.send(publish('rmx/a', '1', 2, 1));
        r.send(publish('rmx/a', '2', 2, 2));
        r.send(publish('rmx/a', '3', 2, 3));
        const seen: mqttPacket.Packet[] = [];
        for (;;) {
          const p = await r.nextPacket();
          seen.push(p);
          if (p.cmd === 'disconnect') break;
        }
        assert.equal((seen.at(-1) as mqttPacket.IDisconnectPacket).reasonCode, 0x93);
        await r.closed;
      } finally {
        await strict.close();
      }
    });
  });

  describe('maximum packet size', () => {
    it('a PUBLISH over the broker\'s limit gets DISCONNECT 0x95', async () => {
      const r = await rawConnected(t.port, 5);
      r.send(publish('big/x', Buffer.alloc(5000), 0));
      const d = await r.nextPacket() as mqttPacket.IDisconnectPacket;
      assert.equal(d.reasonCode, 0x95);
      await r.closed;
    });

    it('a message over the client\'s limit is not sent to it (counted), smaller ones are', async () => {
      const topic = `cmax/${uid()}`;
      const sub = await connect(t.url, { ...v5, properties: { maximumPacketSize: 200 } });
      const inbox = new Inbox(sub);
      await sub.subscribeAsync(topic, { qos: 1 });
      const before = t.adapter().stats.droppedTooLarge;
      const pub = await connect(t.url, v5);
      await pub.publishAsync(topic, Buffer.alloc(500), { qos: 1 });
      await pub.publishAsync(topic, 'small', { qos: 1 });
      assert.equal((await inbox.next()).payload.toString(), 'small');
      assert.equal(t.adapter().stats.droppedTooLarge, before + 1);
    });
  });

  describe('subscription options', () => {
    it('subscription identifiers: every matching subscription\'s id', async () => {
      const base = uid('sid');
      const sub = await connect(t.url, v5);
      const inbox = new Inbox(sub);
      await sub.subscribeAsync(`${base}/#`, { qos: 1, properties: { subscriptionIdentifier: 7 } });
      await sub.subscribeAsync(`${base}/b`, { qos: 1, properties: { subscriptionIdentifier: 9 } });
      const pub = await connect(t.url, v5);
      await pub.publishAsync(`${base}/b`, 'both', { qos: 1 });
      await pub.publishAsync(`${base}/c`, 'one', { qos: 1 });
      const [both, one] = await inbox.waitCount(2);
      assert.deepEqual([...(both.packet.properties!.subscriptionIdentifier as number[])].sort(), [7, 9]);
      assert.equal(one.packet.properties!.subscriptionIdentifier, 7);
    });

    it('no local: own messages are not delivered back', async () => {
      const topic = `nl/${uid()}`;
      const c = await connect(t.url, v5);
      const inbox = new Inbox(c);
      await c.subscribeAsync(topic, { qos: 1, nl: true });
      await c.publishAsync(topic, 'mine', { qos: 1 });
      const other = await connect(t.url, v5);
      await other.publishAsync(topic, 'theirs', { qos: 1 });
      assert.equal((await inbox.next()).payload.toString(), 'theirs');
      assert.ok(await inbox.quiet(200));
    });

    it('retain as published keeps RETAIN on live messages', async () => {
      const topic = `rap/${uid()}`;
      const keep = await connect(t.url, v5);
      const keepInbox = new Inbox(keep);
      await keep.subscribeAsync(topic, { qos: 1, rap: true });
      const plain = await connect(t.url, v5);
      const plainInbox = new Inbox(plain);
      await plain.subscribeAsync(topic, { qos: 1, rap: false });
      const pub = await connect(t.url, v5);
      await pub.publishAsync(topic, 'r', { qos: 1, retain: true });
      assert.equal((await keepInbox.next()).packet.retain, true);
      assert.equal((await plainInbox.next()).packet.retain, false);
    });

    it('retain handling 0 / 1 / 2', async () => {
      const topic = `rh/${uid()}`;
      const pub = await connect(t.url, v5);
      await pub.publishAsync(topic, 'kept', { qos: 1, retain: true });
      const c = await connect(t.url, v5);
      const inbox = new Inbox(c);
      await c.subscribeAsync(topic, { qos: 1, rh: 2 });
      assert.ok(await inbox.quiet(200), 'rh 2: never');
      await c.unsubscribeAsync(topic);
      await c.subscribeAsync(topic, { qos: 1, rh: 1 });
      await inbox.next();
      await c.subscribeAsync(topic, { qos: 1, rh: 1 });
      assert.ok(await inbox.quiet(200), 'rh 1: only for a new subscription');
      await c.subscribeAsync(topic, { qos: 1, rh: 0 });
      await inbox.next();
    });
  });

  describe('reason codes', () => {
    it('PUBACK 0x10 when nobody subscribes; UNSUBACK 0x11 for an unknown filter', async () => {
      const r = await rawConnected(t.port, 5);
      r.send(publish(`nobody/${uid()}`, 'x', 1, 4));
      const ack = await r.nextPacket() as mqttPacket.IPubackPacket;
      assert.equal(ack.reasonCode, 0x10);
      r.send({ cmd: 'unsubscribe', messageId: 5, unsubscriptions: ['never/subscribed'] } as mqttPacket.IUnsubscribePacket);
      const un = await r.nextPacket() as mqttPacket.IUnsubackPacket;
      assert.deepEqual(un.granted, [0x11]);
      r.close();
    });

    it('SUBACK 0x8F for invalid filters, granted QoS otherwise', async () => {
      const r = await rawConnected(t.port, 5);
      r.send({ cmd: 'subscribe', messageId: 2, subscriptions: [{ topic: 'ok/+', qos: 2 }, { topic: 'bad/#/x', qos: 1 }, { topic: 'star/*', qos: 1 }] } as mqttPacket.ISubscribePacket);
      const s = await r.nextPacket() as mqttPacket.ISubackPacket;
      assert.deepEqual(s.granted, [2, 0x8f, 0x8f]);
      r.close();
    });

    it('PUBACK 0x90 with a reason string for a topic that has no core form; none when problem information is off', async () => {
      const r = await rawConnected(t.port, 5);
      r.send(publish('a/*/b', 'x', 1, 6));
      const ack = await r.nextPacket() as mqttPacket.IPubackPacket;
      assert.equal(ack.reasonCode, 0x90);
      assert.match(ack.properties!.reasonString!, /no core form/);
      r.close();
      const quiet = await rawConnected(t.port, 5, { properties: { requestProblemInformation: false } });
      quiet.send(publish('a/*/b', 'x', 1, 6));
      const ack2 = await quiet.nextPacket() as mqttPacket.IPubackPacket;
      assert.equal(ack2.reasonCode, 0x90);
      assert.equal(ack2.properties?.reasonString, undefined);
      quiet.close();
    });

    it('PUBACK 0x99 when the payload format indicator says UTF-8 and it is not', async () => {
      const r = await rawConnected(t.port, 5);
      r.send(publish('pfi/x', Buffer.from([0xff, 0xfe]), 1, 8, { payloadFormatIndicator: true }));
      assert.equal(((await r.nextPacket()) as mqttPacket.IPubackPacket).reasonCode, 0x99);
      r.close();
    });
  });
});
