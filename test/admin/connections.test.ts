/**
 * /api/connections, the per-protocol metrics and the connection lifecycle log, with a real client
 * of every protocol: each is listed with its protocol, client id and user, counted in /metrics,
 * logged on connect, refused login and disconnect, and closed by DELETE the protocol's own way.
 */
import assert from 'node:assert/strict';
import { Client as StompClient } from '@stomp/stompjs';
import { Kafka, logLevel, type Producer } from 'kafkajs';
import mqtt, { type MqttClient } from 'mqtt';
import rhea, { type Connection, type EventContext } from 'rhea';
import { WebSocket } from 'ws';
import type { Client as XmppClient } from '@xmpp/client';
import { createUserRecord, MemoryUserStore } from '../../plugins/auth/index.js';
import { eventually, type LogRecord, recordingLogger, removeTempDir, type RunningBroker, startBroker, tempDir } from '../support/index.js';
import { login, stopAll } from '../xmpp/helpers.js';
import { call } from './helpers.js';

const HOST = '127.0.0.1';
const alice = { user: 'alice', password: 'wonder' };
const FAST = { N: 1024, scramIterations: 4096 };
const PROTOCOLS = ['mqtt', 'stomp', 'amqp', 'kafka', 'xmpp'];

interface Conn {
  id: string; protocol: string; listener: string; clientId: string | null; user: string | null; remote: string;
  connectedSince: string; messagesIn: number; messagesOut: number; bytesIn: number; bytesOut: number;
}

const once = <T>(fn: (resolve: (v: T) => void) => void): Promise<T> => new Promise<T>((resolve) => fn(resolve));

function mqttConnect(b: RunningBroker, clientId: string, protocolVersion: 4 | 5, password = alice.password): Promise<MqttClient> {
  return mqtt.connectAsync(`mqtt://${HOST}:${b.ports.mqtt}`, { protocolVersion, clientId, username: alice.user, password, reconnectPeriod: 0 });
}

async function stompConnect(b: RunningBroker, clientId: string, passcode = alice.password): Promise<StompClient> {
  const client = new StompClient({
    webSocketFactory: () => new WebSocket(`ws://${HOST}:${b.ports.http}/stomp`, ['v12.stomp']),
    connectHeaders: { login: alice.user, passcode, 'client-id': clientId },
    reconnectDelay: 0, heartbeatIncoming: 0, heartbeatOutgoing: 0,
  });
  await new Promise<void>((resolve, reject) => {
    client.onConnect = () => resolve();
    client.onStompError = (f) => reject(new Error(f.headers.message));
    client.onWebSocketClose = () => reject(new Error('closed'));
    client.activate();
  });
  return client;
}

async function amqpConnect(b: RunningBroker, containerId: string, password = alice.password): Promise<Connection> {
  const conn = rhea.create_container({ id: containerId }).connect({ host: HOST, port: b.ports.amqp!, reconnect: false, username: alice.user, password });
  await new Promise<void>((resolve, reject) => {
    conn.once('connection_open', () => resolve());
    conn.once('connection_error', (ctx: EventContext) => reject(ctx.connection.error));
    conn.once('disconnected', (ctx: EventContext) => reject(ctx.error ?? new Error('disconnected')));
  });
  return conn;
}

function kafkaClient(b: RunningBroker, clientId: string, password = alice.password): Kafka {
  return new Kafka({
    clientId, brokers: [`${HOST}:${b.ports.kafka}`], logLevel: logLevel.NOTHING, retry: { retries: 0 },
    sasl: { mechanism: 'plain', username: alice.user, password },
  });
}

/** The value of `name{protocol="p"}` in a /metrics body (NaN when absent). */
function metric(text: string, name: string, protocol: string): number {
  const m = new RegExp(`^${name}\\{protocol="${protocol}"\\} (\\S+)$`, 'm').exec(text);
  return m ? Number(m[1]) : NaN;
}

describe('connections: /api/connections, per-protocol metrics and the lifecycle log', function () {
  this.timeout(60_000);
  let b: RunningBroker;
  let records: LogRecord[];
  let m5: MqttClient, m3: MqttClient, stomp: StompClient, amqp: Connection, producer: Producer, xmpp: XmppClient;

  const list = async (): Promise<Conn[]> => {
    const r = await call(b, 'GET', '/api/connections', { auth: alice });
    assert.equal(r.status, 200, r.text);
    return r.json as Conn[];
  };
  const find = async (protocol: string, clientId: string): Promise<Conn | undefined> =>
    (await list()).find((c) => c.protocol === protocol && c.clientId === clientId);
  const metrics = async (): Promise<string> => (await call(b, 'GET', '/metrics', { auth: alice })).text;
  const logged = (msg: string, protocol: string, pred: (o: Record<string, unknown>) => boolean = () => true) =>
    records.some((r) => r.msg === msg && (r.obj as Record<string, unknown>).protocol === protocol && pred(r.obj as Record<string, unknown>));

  before(async () => {
    const log = recordingLogger();
    records = log.records;
    const users = new MemoryUserStore({ alice: await createUserRecord(alice.password, FAST) });
    b = await startBroker({ logger: log, userStore: users, auth: { allowAnonymous: false, rules: [{ user: 'alice', allow: ['admin', 'publish', 'subscribe', 'consume'], address: '#' }] } });
    m5 = await mqttConnect(b, 'm5', 5);
    m3 = await mqttConnect(b, 'm311', 4);
    stomp = await stompConnect(b, 's1');
    amqp = await amqpConnect(b, 'a1');
    producer = kafkaClient(b, 'k1').producer();
    await producer.connect();
    xmpp = await login(b.ports.xmpp!, alice.user, alice.password, { resource: 'r1' });
  });

  after(async () => {
    m5?.end(true);
    m3?.end(true);
    await stomp?.deactivate().catch(() => undefined);
    amqp?.close();
    await producer?.disconnect().catch(() => undefined);
    await stopAll(xmpp);
    await b?.close();
  });

  it('lists a client of every protocol with its client id, user, listener and address', async () => {
    await eventually(async () => (await find('kafka', 'k1')) !== undefined, { what: 'the kafka connection' });
    const all = await list();
    const expect: Array<[string, string | RegExp, string]> = [
      ['mqtt', 'm5', 'mqtt'], ['mqtt', 'm311', 'mqtt'], ['stomp', 's1', 'stomp-ws'], ['amqp', 'a1', 'amqp'],
      ['kafka', 'k1', 'kafka'], ['xmpp', /^alice@localhost\/r1/, 'xmpp'],
    ];
    for (const [protocol, clientId, listener] of expect) {
      const c = all.find((x) => x.protocol === protocol && (typeof clientId === 'string' ? x.clientId === clientId : clientId.test(x.clientId ?? '')));
      assert.ok(c, `${protocol} ${clientId} in ${JSON.stringify(all)}`);
      assert.equal(c.user, 'alice');
      assert.equal(c.listener, listener);
      assert.match(c.remote, /^(::ffff:)?127\.0\.0\.1:\d+$/);
      assert.ok(Date.parse(c.connectedSince) <= Date.now());
      assert.ok(c.bytesIn > 0 && c.bytesOut > 0, `${protocol} bytes ${c.bytesIn}/${c.bytesOut}`);
    }
    const one = await call(b, 'GET', `/api/connections/${encodeURIComponent(all[0].id)}`, { auth: alice });
    assert.equal(one.json.id, all[0].id);
    assert.equal((await call(b, 'GET', '/api/connections/nope', { auth: alice })).status, 404);
    assert.equal((await call(b, 'GET', '/api/connections')).status, 401);
    const overview = (await call(b, 'GET', '/api/overview', { auth: alice })).json;
    for (const p of PROTOCOLS) assert.ok(overview.connections[p] >= 1, `overview connections ${p}`);
    const onlyAmqp = (await call(b, 'GET', '/api/connections?protocol=amqp', { auth: alice })).json as Conn[];
    assert.deepEqual(onlyAmqp.map((c) => c.clientId), ['a1']);
  });

  it('logs each connection at info with protocol, client id, user and address', () => {
    for (const p of PROTOCOLS) {
      assert.ok(logged('client connected', p, (o) => o.user === 'alice' && typeof o.remote === 'string' && o.clientId !== null), `connect line for ${p}`);
    }
  });

  it('counts messages and bytes per protocol and per connection', async () => {
    const before = await metrics();
    const got: string[] = [];
    stomp.subscribe('/topic/conn.t', (m) => got.push(m.body));
    const receiver = amqp.open_receiver({ source: { address: '/topic/conn.t' } });
    await once<void>((r) => receiver.once('receiver_open', () => r()));
    const amqpGot: unknown[] = [];
    receiver.on('message', (ctx: EventContext) => amqpGot.push(ctx.message));
    await m5.subscribeAsync('conn/t');
    await new Promise((r) => setTimeout(r, 200)); // the STOMP SUBSCRIBE has no receipt here
    await m3.publishAsync('conn/t', 'hello', { qos: 1 });
    await producer.send({ topic: 'conn.k', messages: [{ value: 'k1' }, { value: 'k2' }] });
    await eventually(() => got.length === 1 && amqpGot.length === 1, { what: 'STOMP and AMQP deliveries' });
    const after = await metrics();
    assert.equal(metric(after, 'junction_messages_received_total', 'mqtt') - metric(before, 'junction_messages_received_total', 'mqtt'), 1);
    assert.equal(metric(after, 'junction_messages_received_total', 'kafka') - metric(before, 'junction_messages_received_total', 'kafka'), 2);
    assert.equal(metric(after, 'junction_messages_sent_total', 'stomp') - metric(before, 'junction_messages_sent_total', 'stomp'), 1);
    assert.equal(metric(after, 'junction_messages_sent_total', 'amqp') - metric(before, 'junction_messages_sent_total', 'amqp'), 1);
    for (const p of PROTOCOLS) {
      assert.equal(metric(after, 'junction_connections', p) >= 1, true, `junction_connections ${p}`);
      assert.ok(metric(after, 'junction_received_bytes_total', p) > 0, `received bytes ${p}`);
      assert.ok(metric(after, 'junction_sent_bytes_total', p) > 0, `sent bytes ${p}`);
      assert.ok(metric(after, 'junction_connections_opened_total', p) >= 1, `opened ${p}`);
      assert.ok(metric(after, 'junction_protocol_errors_total', p) >= 0, `protocol errors ${p}`);
    }
    assert.ok(metric(after, 'junction_received_bytes_total', 'mqtt') > metric(before, 'junction_received_bytes_total', 'mqtt'));
    assert.equal((await find('mqtt', 'm311'))?.messagesIn, 1);
    assert.ok(((await find('mqtt', 'm5'))?.messagesOut ?? 0) >= 1);
    assert.equal((await find('stomp', 's1'))?.messagesOut, 1);
    assert.equal((await find('kafka', 'k1'))?.messagesIn, 2);
    receiver.close();
  });

  it('counts and logs refused logins per protocol (once each)', async () => {
    const before = await metrics();
    await assert.rejects(mqttConnect(b, 'bad', 5, 'wrong'));
    await assert.rejects(stompConnect(b, 'bad', 'wrong'));
    await assert.rejects(amqpConnect(b, 'bad', 'wrong'));
    const badKafka = kafkaClient(b, 'bad', 'wrong').producer();
    await assert.rejects(badKafka.connect());
    await assert.rejects(login(b.ports.xmpp!, alice.user, 'wrong', { resource: 'bad' }));
    const after = await metrics();
    for (const p of PROTOCOLS) {
      assert.ok(metric(after, 'junction_auth_failures_total', p) - (metric(before, 'junction_auth_failures_total', p) || 0) >= 1, `auth failures ${p}`);
      const lines = records.filter((r) => r.msg === 'authentication refused' && (r.obj as { protocol: string }).protocol === p);
      assert.ok(lines.length >= 1, `refusal logged for ${p}`);
    }
    // The adapters leave the refusal to the auth plugin: no second line at info or above.
    assert.ok(!records.some((r) => /SASL authentication failed|AMQP authentication failed/.test(r.msg ?? '')));
    assert.ok(!records.some((r) => r.msg === 'STOMP protocol error: closing connection' && (r.obj as { err?: string }).err === 'access refused'));
  });

  it('DELETE closes each connection the protocol\'s own way and the disconnect is logged with the reason', async () => {
    const close = async (protocol: string, clientId: string | RegExp) => {
      const c = (await list()).find((x) => x.protocol === protocol && (typeof clientId === 'string' ? x.clientId === clientId : clientId.test(x.clientId ?? '')));
      assert.ok(c, `${protocol} ${clientId}`);
      const r = await call(b, 'DELETE', `/api/connections/${encodeURIComponent(c.id)}`, { auth: alice });
      assert.equal(r.status, 204, r.text);
      await eventually(async () => !(await list()).some((x) => x.id === c.id), { what: `${c.id} gone` });
      assert.ok(logged('client disconnected', protocol, (o) => o.conn === c.id && o.reason === 'closed by an administrator'), `${protocol} disconnect line`);
    };

    const m5Disconnect = once<number | undefined>((r) => m5.once('disconnect', (p) => r(p.reasonCode)));
    await close('mqtt', 'm5');
    assert.equal(await m5Disconnect, 0x98);

    const m3Closed = once<void>((r) => m3.once('close', () => r()));
    await close('mqtt', 'm311');
    await m3Closed;

    const stompError = once<string>((r) => { stomp.onStompError = (f) => r(f.headers.message); });
    await close('stomp', 's1');
    assert.equal(await stompError, 'closed by an administrator');

    const amqpError = once<string | undefined>((r) => amqp.once('connection_error', (ctx: EventContext) => r((ctx.connection.error as { condition?: string })?.condition)));
    await close('amqp', 'a1');
    assert.equal(await amqpError, 'amqp:connection:forced');

    const kafkaClosed = (await list()).filter((x) => x.protocol === 'kafka' && x.clientId === 'k1');
    for (const k of kafkaClosed) {
      assert.equal((await call(b, 'DELETE', `/api/connections/${encodeURIComponent(k.id)}`, { auth: alice })).status, 204);
    }
    await eventually(async () => !(await list()).some((x) => kafkaClosed.some((k) => k.id === x.id)), { what: 'kafka connections gone' });
    assert.ok(logged('client disconnected', 'kafka', (o) => o.reason === 'closed by an administrator'));

    const xmppError = once<string>((r) => xmpp.on('error', (e: Error & { condition?: string }) => r(e.condition ?? e.message)));
    await close('xmpp', /^alice@localhost\/r1/);
    assert.equal(await xmppError, 'policy-violation');

    assert.equal((await call(b, 'DELETE', '/api/connections/mqtt-999999', { auth: alice })).status, 404);
  });

  it('logs the client\'s own disconnect with its reason', async () => {
    const c = await mqttConnect(b, 'bye', 5);
    await eventually(async () => (await find('mqtt', 'bye')) !== undefined, { what: 'bye listed' });
    await c.endAsync();
    await eventually(() => logged('client disconnected', 'mqtt', (o) => o.clientId === 'bye'), { what: 'the disconnect line' });
    assert.ok(logged('client disconnected', 'mqtt', (o) => o.clientId === 'bye' && o.reason === 'client disconnected' && o.user === 'alice'));
  });
});

describe('metrics: the data directory on disk', () => {
  it('reports the bytes stored and the size and free space of its filesystem', async () => {
    const dir = tempDir();
    const b = await startBroker({ dataDir: dir, protocols: [] });
    try {
      await call(b, 'PUT', '/api/queues/disk', { body: {} });
      const text = (await call(b, 'GET', '/metrics')).text;
      const value = (name: string) => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1]);
      assert.ok(value('junction_storage_bytes') > 0, text);
      assert.ok(value('junction_data_dir_filesystem_bytes') > 0);
      assert.ok(value('junction_data_dir_free_bytes') > 0);
      assert.ok(value('junction_data_dir_free_bytes') <= value('junction_data_dir_filesystem_bytes'));
    } finally {
      await b.close();
      removeTempDir(dir);
    }
  });
});
