/**
 * Debian clients against the MQTT adapter: python3-paho-mqtt (MQTTv311 and MQTTv5, via
 * /usr/bin/python3) and mosquitto-clients (mosquitto_pub / mosquitto_sub). Skipped with a message
 * when a client is missing, except under CI=true.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { DEBIAN_PYTHON, eventually, requireDebianClient, TEST_HOST } from '../support/index.js';
import { connect, endAll, Inbox, startMqtt, uid, type MqttTestBroker } from './helpers.js';

const PAHO = String.raw`
import sys, json
import paho.mqtt.client as mqtt
from paho.mqtt.properties import Properties
from paho.mqtt.packettypes import PacketTypes
cfg = json.loads(sys.argv[1])
v5 = cfg['version'] == 5
def emit(o): print(json.dumps(o), flush=True)
if v5:
    c = mqtt.Client(client_id=cfg.get('clientId', ''), protocol=mqtt.MQTTv5, userdata={'n': 0})
else:
    c = mqtt.Client(client_id=cfg.get('clientId', ''), protocol=mqtt.MQTTv311, clean_session=cfg.get('clean', True), userdata={'n': 0})
def props_of(p):
    d = {}
    for name in ['UserProperty', 'ContentType', 'CorrelationData', 'ResponseTopic', 'PayloadFormatIndicator', 'MessageExpiryInterval']:
        if hasattr(p, name):
            v = getattr(p, name)
            if isinstance(v, bytes): v = v.decode()
            d[name] = v
    return d
def on_connect(client, userdata, flags, rc, properties=None):
    emit({'event': 'connack', 'rc': rc if isinstance(rc, int) else rc.value, 'sessionPresent': bool(flags.get('session present'))})
    if cfg['mode'] == 'sub':
        client.subscribe(cfg['topic'], qos=cfg.get('qos', 1))
    else:
        for m in cfg['messages']:
            props = None
            if v5 and m.get('props'):
                props = Properties(PacketTypes.PUBLISH)
                for k, v in m['props'].items():
                    if k == 'UserProperty': v = [tuple(x) for x in v]
                    if k == 'CorrelationData': v = v.encode()
                    setattr(props, k, v)
            client.publish(m['topic'], m['payload'], qos=m['qos'], retain=m.get('retain', False), properties=props)
        client.disconnect()
def on_subscribe(client, userdata, mid, granted, properties=None):
    emit({'event': 'suback', 'granted': [g if isinstance(g, int) else g.value for g in granted]})
    if cfg.get('count', 1) == 0: client.disconnect()
def on_message(client, userdata, msg):
    d = {'event': 'message', 'topic': msg.topic, 'payload': msg.payload.decode('utf-8', 'replace'), 'qos': msg.qos, 'retain': bool(msg.retain)}
    if v5 and getattr(msg, 'properties', None) is not None: d['props'] = props_of(msg.properties)
    emit(d)
    userdata['n'] += 1
    if userdata['n'] >= cfg.get('count', 1): client.disconnect()
c.on_connect = on_connect
c.on_subscribe = on_subscribe
c.on_message = on_message
if v5:
    cp = Properties(PacketTypes.CONNECT)
    cp.SessionExpiryInterval = cfg.get('sessionExpiry', 0)
    c.connect(cfg['host'], cfg['port'], keepalive=30, clean_start=cfg.get('clean', True), properties=cp)
else:
    c.connect(cfg['host'], cfg['port'], keepalive=30)
c.loop_forever()
emit({'event': 'done'})
`;

interface Line { event: string; [k: string]: unknown }

class Proc {
  readonly lines: Line[] = [];
  private wake: (() => void) | null = null;
  readonly exited: Promise<number | null>;
  stderr = '';
  constructor(readonly child: ChildProcess) {
    createInterface({ input: child.stdout! }).on('line', (l) => {
      try {
        this.lines.push(JSON.parse(l) as Line);
      } catch {
        this.lines.push({ event: 'text', text: l });
      }
      this.wake?.();
    });
    child.stderr!.on('data', (d) => (this.stderr += String(d)));
    this.exited = new Promise((r) => child.on('exit', (code) => { this.wake?.(); r(code); }));
  }

  async waitFor(event: string, n = 1, timeoutMs = 10_000): Promise<Line[]> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const got = this.lines.filter((l) => l.event === event);
      if (got.length >= n) return got;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`waiting for ${n} "${event}" lines; got ${JSON.stringify(this.lines)}; stderr: ${this.stderr}`);
      await new Promise<void>((r) => { const t = setTimeout(r, Math.min(left, 200)); this.wake = () => { clearTimeout(t); r(); }; });
    }
  }
}

const procs: ChildProcess[] = [];
function paho(t: MqttTestBroker, cfg: Record<string, unknown>): Proc {
  const child = spawn(DEBIAN_PYTHON, ['-c', PAHO, JSON.stringify({ host: TEST_HOST, port: t.port, ...cfg })], { stdio: ['ignore', 'pipe', 'pipe'] });
  procs.push(child);
  return new Proc(child);
}

function run(cmd: string, args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    procs.push(child);
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += String(d)));
    child.stderr.on('data', (d) => (stderr += String(d)));
    child.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

function killAll(): void {
  for (const p of procs.splice(0)) if (p.exitCode === null) p.kill('SIGKILL');
}

/** The subscription of client `clientId` is in the core (bound and consumed). */
function subscribed(t: MqttTestBroker, clientId: string): () => boolean {
  return () => {
    const q = t.b.broker.getQueue(`mqtt.session.${clientId}`);
    return !!q && q.consumers.length > 0 && t.b.broker.bindingsOf(q.name).length > 0;
  };
}

describe('mqtt with python3-paho-mqtt', () => {
  let t: MqttTestBroker;
  before(requireDebianClient('python3-paho-mqtt', 'python3:paho.mqtt.client'));
  before(async () => { t = await startMqtt(); });
  afterEach(async () => { killAll(); await endAll(); });
  after(async () => { await t?.close(); });

  for (const version of [4, 5] as const) {
    const name = version === 5 ? 'MQTTv5' : 'MQTTv311';
    it(`${name}: paho subscribes, an MQTT.js client publishes QoS 0/1/2`, async () => {
      const topic = `paho/${uid()}`;
      const sub = paho(t, { version, mode: 'sub', topic, qos: 2, count: 3 });
      await sub.waitFor('suback');
      const pub = await connect(t.url, { protocolVersion: version });
      for (const qos of [0, 1, 2] as const) await pub.publishAsync(topic, `q${qos}`, { qos });
      const msgs = await sub.waitFor('message', 3);
      assert.deepEqual(msgs.map((m) => [m.payload, m.qos]), [['q0', 0], ['q1', 1], ['q2', 2]]);
      assert.equal(await sub.exited, 0);
    });

    it(`${name}: paho publishes QoS 1 and 2 (retained), MQTT.js receives`, async () => {
      const topic = `pahopub/${uid()}`;
      const c = await connect(t.url, { protocolVersion: version });
      const inbox = new Inbox(c);
      await c.subscribeAsync(topic, { qos: 2 });
      const pub = paho(t, { version, mode: 'pub', messages: [{ topic, payload: 'one', qos: 1 }, { topic, payload: 'two', qos: 2, retain: true }] });
      assert.equal(await pub.exited, 0, pub.stderr);
      const got = await inbox.waitCount(2);
      assert.deepEqual(got.map((m) => m.payload.toString()), ['one', 'two']);
      assert.equal(t.b.broker.retained.get(topic.replaceAll('/', '.'))?.payload.toString(), 'two');
    });

    it(`${name}: a persistent paho session gets what was published while it was away`, async () => {
      const topic = `pahosess/${uid()}`;
      const clientId = uid('paho');
      const first = paho(t, { version, mode: 'sub', topic, qos: 1, count: 0, clientId, clean: false, sessionExpiry: 300 });
      await first.waitFor('suback');
      await first.exited;
      const pub = await connect(t.url, { protocolVersion: version });
      await pub.publishAsync(topic, 'while away', { qos: 1 });
      const again = paho(t, { version, mode: 'sub', topic, qos: 1, count: 1, clientId, clean: false, sessionExpiry: 300 });
      const [connack] = await again.waitFor('connack');
      assert.equal(connack.sessionPresent, true);
      const [m] = await again.waitFor('message');
      assert.equal(m.payload, 'while away');
    });
  }

  it('MQTTv5: properties both ways between paho and MQTT.js', async () => {
    const topic = `pahoprops/${uid()}`;
    const c = await connect(t.url, { protocolVersion: 5 });
    const inbox = new Inbox(c);
    await c.subscribeAsync(topic, { qos: 1 });
    const pub = paho(t, {
      version: 5, mode: 'pub', messages: [{
        topic, payload: '{"t":1}', qos: 1,
        props: { UserProperty: [['site', 'lyon'], ['site', 'oslo']], ContentType: 'application/json', CorrelationData: 'corr-1', ResponseTopic: 'answers/here', PayloadFormatIndicator: 1, MessageExpiryInterval: 300 },
      }],
    });
    assert.equal(await pub.exited, 0, pub.stderr);
    const p = (await inbox.next()).packet.properties!;
    assert.deepEqual({ ...p.userProperties }, { site: ['lyon', 'oslo'] });
    assert.equal(p.contentType, 'application/json');
    assert.deepEqual(p.correlationData, Buffer.from('corr-1'));
    assert.equal(p.responseTopic, 'answers/here');
    assert.equal(p.payloadFormatIndicator, true);
    const back = `${topic}/back`;
    const sub = paho(t, { version: 5, mode: 'sub', topic: back, qos: 1, count: 1 });
    await sub.waitFor('suback');
    await c.publishAsync(back, 'reply', { qos: 1, properties: { userProperties: { k: 'v' }, contentType: 'text/plain', correlationData: Buffer.from('c2'), responseTopic: 'r/t' } });
    const [m] = await sub.waitFor('message');
    const props = m.props as Record<string, unknown>;
    assert.deepEqual(props.UserProperty, [['k', 'v']]);
    assert.equal(props.ContentType, 'text/plain');
    assert.equal(props.CorrelationData, 'c2');
    assert.equal(props.ResponseTopic, 'r/t');
  });
});

describe('mqtt with mosquitto-clients', () => {
  let t: MqttTestBroker;
  before(requireDebianClient('mosquitto-clients', 'mosquitto_pub'));
  before(requireDebianClient('mosquitto-clients', 'mosquitto_sub'));
  before(async () => { t = await startMqtt(); });
  afterEach(async () => { killAll(); await endAll(); });
  after(async () => { await t?.close(); });

  for (const v of ['mqttv311', 'mqttv5'] as const) {
    it(`mosquitto_pub (${v}) QoS 1 and 2 reach an MQTT.js subscriber`, async () => {
      const topic = `mosq/${uid()}`;
      const c = await connect(t.url, { protocolVersion: v === 'mqttv5' ? 5 : 4 });
      const inbox = new Inbox(c);
      await c.subscribeAsync(topic, { qos: 2 });
      for (const q of ['1', '2']) {
        const r = await run('mosquitto_pub', ['-h', TEST_HOST, '-p', String(t.port), '-V', v, '-q', q, '-t', topic, '-m', `qos${q}`]);
        assert.equal(r.code, 0, r.stderr);
      }
      assert.deepEqual((await inbox.waitCount(2)).map((m) => m.payload.toString()), ['qos1', 'qos2']);
    });

    it(`mosquitto_sub (${v}) receives a retained message and live ones`, async () => {
      const base = uid('mosqsub');
      const topic = `${base}/x`;
      const pub = await connect(t.url);
      await pub.publishAsync(topic, 'retained', { qos: 1, retain: true });
      const id = uid('ms');
      const sub = run('mosquitto_sub', ['-h', TEST_HOST, '-p', String(t.port), '-V', v, '-i', id, '-q', '1', '-t', `${base}/+`, '-C', '2', '-W', '20', '-v']);
      await eventually(subscribed(t, id), { timeout: 10_000, what: 'mosquitto_sub subscribed' });
      await pub.publishAsync(topic, 'live', { qos: 1 });
      const r = await sub;
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual(r.stdout.trim().split('\n'), [`${topic} retained`, `${topic} live`]);
    });
  }

  it('mosquitto_pub -V mqttv5 -D publish user-property/content-type reach MQTT.js; mosquitto_sub prints them', async () => {
    const topic = `mosq5/${uid()}`;
    const c = await connect(t.url, { protocolVersion: 5 });
    const inbox = new Inbox(c);
    await c.subscribeAsync(topic, { qos: 1 });
    const r = await run('mosquitto_pub', ['-h', TEST_HOST, '-p', String(t.port), '-V', 'mqttv5', '-q', '1', '-t', topic, '-m', 'x',
      '-D', 'publish', 'user-property', 'who', 'mosquitto', '-D', 'publish', 'content-type', 'text/plain']);
    assert.equal(r.code, 0, r.stderr);
    const p = (await inbox.next()).packet.properties!;
    assert.deepEqual({ ...p.userProperties }, { who: 'mosquitto' });
    assert.equal(p.contentType, 'text/plain');

    const id = uid('ms5');
    const sub = run('mosquitto_sub', ['-h', TEST_HOST, '-p', String(t.port), '-V', 'mqttv5', '-i', id, '-q', '1', '-t', topic, '-C', '1', '-W', '20', '-F', '%t|%p|%C|%q']);
    await eventually(subscribed(t, id), { timeout: 10_000, what: 'mosquitto_sub subscribed' });
    await c.publishAsync(topic, 'payload', { qos: 1, properties: { contentType: 'application/x' } });
    const out = await sub;
    assert.equal(out.code, 0, out.stderr);
    assert.equal(out.stdout.trim(), `${topic}|payload|application/x|1`);
  });
});
