/**
 * limits.maxConnectionsPerUser: one count per user across every protocol, checked at login and
 * answered in each protocol's terms (MQTT CONNACK 0x97 / 3, STOMP ERROR, AMQP close with
 * amqp:resource-limit-exceeded, Kafka SASL_AUTHENTICATION_FAILED, XMPP SASL temporary-auth-failure),
 * with real clients (npm mqtt, @stomp/stompjs, rhea, kafkajs, @xmpp/client). Other users
 * and the user's own connections are not affected; a closed connection frees its place.
 */
import assert from 'node:assert/strict';
import mqtt from 'mqtt';
import rhea from 'rhea';
import { MemoryUserStore, createUserRecord } from '../../plugins/auth/index.js';
import { connect as amqpConnect, close as amqpClose, openSender } from '../amqp/helpers.js';
import { startBroker, TEST_HOST, type RunningBroker } from '../support/broker.js';
import { recordingLogger, type LogRecord } from '../support/logger.js';
import { kafkajs } from '../kafka/support.js';
import { RawStomp, stompjs } from '../stomp/helpers.js';
import { eventually } from '../support/index.js';
import { login as xmppLogin, stopAll } from '../xmpp/helpers.js';

describe('platform: limits per user across protocols', function () {
  this.timeout(60_000);
  let b: RunningBroker;
  const records: LogRecord[] = [];
  before(async () => {
    const rec = await createUserRecord('pw', { N: 1024, scramIterations: 4096 });
    b = await startBroker({
      userStore: new MemoryUserStore({ alice: rec, bob: rec, carol: rec, dave: rec }),
      auth: { allowAnonymous: false },
      limits: { maxConnectionsPerUser: 2, maxQueuesPerUser: 2 },
      logger: recordingLogger(records),
    });
  });
  after(async () => b?.close());

  const mqttUrl = () => `mqtt://${TEST_HOST}:${b.ports.mqtt}`;
  const mqttLogin = (user: string, protocolVersion: 4 | 5 = 5) => mqtt.connectAsync(mqttUrl(), { username: user, password: 'pw', protocolVersion, reconnectPeriod: 0 });
  const stompLogin = (user: string) => stompjs(`ws://${TEST_HOST}:${b.ports.http}/stomp`, { connectHeaders: { login: user, passcode: 'pw' } });
  const amqpLogin = (user: string): Promise<rhea.Connection> => amqpConnect(b.ports.amqp!, { username: user, password: 'pw' });
  const counted = (user: string) => b.clients.userConnections(user);
  /** The condition of the close that follows the open (rhea reports the open first). */
  const amqpRefusal = (user: string): Promise<string | undefined> => new Promise((resolve) => {
    const c = rhea.create_container().connect({ host: TEST_HOST, port: b.ports.amqp!, username: user, password: 'pw', reconnect: false });
    const done = () => resolve((c.error as { condition?: string } | undefined)?.condition);
    c.on('connection_close', done);
    c.on('connection_error', done);
    c.on('disconnected', done);
    c.on('error', () => undefined);
  });

  it('a user at the limit is refused on MQTT, STOMP and AMQP alike; another user is not; a close frees a place', async () => {
    // alice: one MQTT and one AMQP connection fill her two places.
    const m1 = await mqttLogin('alice');
    const a1 = await amqpLogin('alice');
    assert.equal(counted('alice'), 2);

    await assert.rejects(mqttLogin('alice'), (err: Error & { code?: number }) => err.code === 0x97, 'MQTT 5: CONNACK 0x97 quota exceeded');
    await assert.rejects(mqttLogin('alice', 4), (err: Error & { code?: number }) => err.code === 3, 'MQTT 3.1.1: CONNACK 3 server unavailable');
    await assert.rejects(stompLogin('alice'), /too many connections/, 'STOMP: an ERROR frame');
    assert.equal(await amqpRefusal('alice'), 'amqp:resource-limit-exceeded', 'AMQP: open answered by a close with amqp:resource-limit-exceeded');
    assert.equal(counted('alice'), 2, 'refused logins hold no place');

    // A client id reconnecting while its old connection is still open takes it over: accepted at the limit.
    const m1again = await mqtt.connectAsync(mqttUrl(), { username: 'alice', password: 'pw', protocolVersion: 5, reconnectPeriod: 0, clientId: m1.options.clientId });
    await eventually(() => !m1.connected, { what: 'the old connection to be taken over' });
    await eventually(() => counted('alice') === 2, { what: 'alice to count two connections again' });
    await m1.endAsync(true);

    // bob has places of his own, on any protocol.
    const s2 = await stompLogin('bob');
    const m2 = await mqttLogin('bob');
    assert.equal(counted('bob'), 2);

    // alice's connections still work: MQTT publish and subscribe.
    const got = new Promise<string>((resolve) => m1again.on('message', (_t, p) => resolve(p.toString())));
    await m1again.subscribeAsync('user-limits/check', { qos: 1 });
    await m2.publishAsync('user-limits/check', 'still here', { qos: 1 });
    assert.equal(await got, 'still here');

    // One of alice's closes: a STOMP login of hers is accepted again.
    await amqpClose(a1);
    await eventually(() => counted('alice') === 1, { what: 'the AMQP close to free a place' });
    const s1 = await stompLogin('alice');
    assert.equal(counted('alice'), 2);

    const refusals = records.filter((r) => r.msg === 'login refused: too many connections for this user');
    assert.ok(refusals.length >= 1 && refusals.every((r) => r.level === 'warn'), 'refusals logged at warn (at most one a second)');
    assert.ok(b.clients.refusedOverUserLimit >= 4);

    await s1.deactivate();
    await s2.deactivate();
    await m1again.endAsync();
    await m2.endAsync();
    await eventually(() => counted('alice') === 0 && counted('bob') === 0, { what: 'every place freed' });
  });

  it('Kafka SASL and XMPP SASL answer a user at the limit with their login failure (kafkajs, @xmpp/client)', async () => {
    const x1 = await xmppLogin(b.ports.xmpp!, 'carol', 'pw');
    const m1 = await mqttLogin('carol');
    assert.equal(counted('carol'), 2);

    const producer = kafkajs(`${TEST_HOST}:${b.ports.kafka}`, { sasl: { mechanism: 'plain', username: 'carol', password: 'pw' } as never, retry: { retries: 0 } }).producer();
    await assert.rejects(producer.connect(), /too many connections for this user/, 'Kafka: SASL_AUTHENTICATION_FAILED with the reason');
    await assert.rejects(xmppLogin(b.ports.xmpp!, 'carol', 'pw'), /temporary-auth-failure/, 'XMPP: SASL failure temporary-auth-failure');
    assert.equal(counted('carol'), 2);

    await m1.endAsync();
    await eventually(() => counted('carol') === 1, { what: 'the MQTT close to free a place' });
    const ok = kafkajs(`${TEST_HOST}:${b.ports.kafka}`, { sasl: { mechanism: 'plain', username: 'carol', password: 'pw' } as never, retry: { retries: 0 } }).producer();
    await ok.connect();
    await ok.send({ topic: 'user-limits', messages: [{ value: 'in' }] });
    assert.equal(counted('carol'), 2);
    await ok.disconnect();
    await stopAll(x1);
    await eventually(() => counted('carol') === 0, { what: 'every place freed' });
  });

  it('limits.maxQueuesPerUser: durable queues a user creates by naming them, over STOMP and AMQP together', async () => {
    const stomp = await RawStomp.connect(b.ports.stomp!, { 'accept-version': '1.2', host: '/', login: 'dave', passcode: 'pw' });
    await stomp.sendWithReceipt('SEND', { destination: '/queue/dave.1' }, 'one');
    const amqp = await amqpLogin('dave');
    await openSender(amqp, '/queue/dave.2');
    assert.equal(b.broker.queuesOwnedBy('dave'), 2);

    // A third, on either protocol, is refused in its terms; the queues that exist still take messages.
    await assert.rejects(openSender(amqp, '/queue/dave.3'), (err: { condition?: string }) => err.condition === 'amqp:resource-limit-exceeded');
    await assert.rejects(stomp.sendWithReceipt('SEND', { destination: '/queue/dave.4' }, 'four'), /limits\.maxQueuesPerUser/);
    assert.equal(b.broker.getQueue('dave.3'), undefined);
    assert.equal(b.broker.getQueue('dave.4'), undefined);
    // The STOMP ERROR ended that connection, which frees one of dave's two connection places.
    await eventually(() => counted('dave') === 1, { what: 'the STOMP connection to be released' });
    const again = await RawStomp.connect(b.ports.stomp!, { 'accept-version': '1.2', host: '/', login: 'dave', passcode: 'pw' });
    await again.sendWithReceipt('SEND', { destination: '/queue/dave.1' }, 'still taken');
    assert.equal(b.broker.getQueue('dave.1')!.messageCount, 2);

    // Another user has a count of his own; deleting one of dave's queues frees a place.
    const bob = await RawStomp.connect(b.ports.stomp!, { 'accept-version': '1.2', host: '/', login: 'bob', passcode: 'pw' });
    await bob.sendWithReceipt('SEND', { destination: '/queue/bob.1' }, 'bob');
    assert.equal(b.broker.queuesOwnedBy('bob'), 1);
    await b.broker.deleteQueue('dave.2');
    await again.sendWithReceipt('SEND', { destination: '/queue/dave.3' }, 'three');
    assert.equal(b.broker.queuesOwnedBy('dave'), 2);
    await again.disconnect();
    await bob.disconnect();
    await amqpClose(amqp);
  });
});
