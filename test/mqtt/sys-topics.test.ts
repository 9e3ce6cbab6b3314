/**
 * MQTT `$SYS` topics (plugins/sys): mosquitto_sub reads them as it reads mosquitto's; they are
 * retained and refreshed every sys.intervalSeconds; a `#` subscriber never gets them (MQTT
 * 4.7.2); a STOMP client reads them as /topic/$SYS.broker...; sys.intervalSeconds 0 turns them off.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { readPackageVersion } from '../../plugins/admin/index.js';
import { requireDebianClient, startBroker, TEST_HOST, type RunningBroker } from '../support/index.js';
import { RawStomp } from '../stomp/helpers.js';
import { connect, connectInbox, endAll } from './helpers.js';

/** `mosquitto_sub -v` until it has printed `count` messages: [topic, payload] pairs. */
function mosquittoSub(port: number, topic: string, count: number, until?: (lines: Array<[string, string]>) => boolean): Promise<Array<[string, string]>> {
  const child = spawn('mosquitto_sub', ['-h', TEST_HOST, '-p', String(port), '-t', topic, '-v', '-C', String(count)], { stdio: ['ignore', 'pipe', 'pipe'] });
  const out: Array<[string, string]> = [];
  let stderr = '';
  child.stderr.on('data', (c) => (stderr += c));
  createInterface({ input: child.stdout }).on('line', (line) => {
    const sp = line.indexOf(' ', line.indexOf('$SYS/broker/retained messages/') === 0 ? '$SYS/broker/retained messages/'.length : 0);
    out.push([line.slice(0, sp), line.slice(sp + 1)]);
    if (until?.(out)) child.kill();
  });
  return new Promise((resolve, reject) => {
    child.once('exit', (code, signal) => (code === 0 || signal === 'SIGTERM' ? resolve(out) : reject(new Error(`mosquitto_sub exited ${code}: ${stderr}`))));
  });
}

const SYS_PATHS = ['version', 'uptime', 'clients/connected', 'clients/disconnected', 'clients/total', 'messages/received', 'messages/sent',
  'bytes/received', 'bytes/sent', 'subscriptions/count', 'retained messages/count'];

describe('mqtt: $SYS topics', function () {
  this.timeout(60000);
  before(requireDebianClient('mosquitto-clients', 'mosquitto_sub'));
  let b: RunningBroker;
  beforeEach(async () => { b = await startBroker({ sys: { intervalSeconds: 1 } }); });
  afterEach(async () => {
    await endAll();
    await b.close();
  });

  it(`mosquitto_sub -t '$SYS/#' gets every topic, retained, with mosquitto's names and formats`, async () => {
    const got = new Map(await mosquittoSub(b.ports.mqtt!, '$SYS/#', SYS_PATHS.length));
    assert.deepEqual([...got.keys()].sort(), SYS_PATHS.map((p) => `$SYS/broker/${p}`).sort());
    assert.equal(got.get('$SYS/broker/version'), `junction version ${readPackageVersion()}`);
    assert.match(got.get('$SYS/broker/uptime')!, /^\d+ seconds$/);
    for (const p of SYS_PATHS.slice(2)) assert.match(got.get(`$SYS/broker/${p}`)!, /^\d+$/, p);
  });

  it('the counts follow the traffic: connected clients, messages and bytes received, subscriptions', async () => {
    const { client, inbox } = await connectInbox(`mqtt://${TEST_HOST}:${b.ports.mqtt}`);
    await client.subscribeAsync('room/+/temp', { qos: 1 });
    const publisher = await connect(`mqtt://${TEST_HOST}:${b.ports.mqtt}`);
    for (let i = 0; i < 5; i++) await publisher.publishAsync('room/1/temp', Buffer.from('21.5'), { qos: 1 });
    await inbox.waitCount(5);
    const want = (v: Map<string, string>) => Number(v.get('$SYS/broker/messages/received')) >= 5 && Number(v.get('$SYS/broker/bytes/received')) >= 20
      && Number(v.get('$SYS/broker/messages/sent')) >= 5 && Number(v.get('$SYS/broker/bytes/sent')) >= 20
      && Number(v.get('$SYS/broker/clients/connected')) >= 3 && Number(v.get('$SYS/broker/subscriptions/count')) >= 1;
    // Retained values first, then each refresh: read until one interval shows all of the traffic.
    const seen = new Map<string, string>();
    await mosquittoSub(b.ports.mqtt!, '$SYS/broker/+/+', 1000, (lines) => {
      const [topic, value] = lines.at(-1)!;
      seen.set(topic, value);
      return want(seen);
    });
    assert.ok(want(seen), JSON.stringify([...seen]));
  });

  it(`a '#' subscriber does not get $SYS topics (MQTT 4.7.2), a '+/broker/#' one neither`, async () => {
    const { client, inbox } = await connectInbox(`mqtt://${TEST_HOST}:${b.ports.mqtt}`);
    await client.subscribeAsync(['#', '+/broker/#'], { qos: 0 });
    // Two more rounds of $SYS publishes (uptime changes every second) after the subscription...
    await mosquittoSub(b.ports.mqtt!, '$SYS/broker/uptime', 3);
    // ...then an ordinary message: it is the first and only one the wildcard subscriber got.
    const mark = await connect(`mqtt://${TEST_HOST}:${b.ports.mqtt}`);
    await mark.publishAsync('after/sys', 'x', { qos: 1 });
    await inbox.waitCount(1);
    assert.deepEqual(inbox.messages.map((m) => m.topic), ['after/sys']);
  });

  it('clients may not publish to $SYS topics: MQTT 5 gets a refusal, the retained value stays the broker\'s', async () => {
    const client = await connect(`mqtt://${TEST_HOST}:${b.ports.mqtt}`, { protocolVersion: 5 });
    await assert.rejects(client.publishAsync('$SYS/broker/version', 'fake', { qos: 1, retain: true }), (e: Error & { code?: number }) => e.code === 0x90);
    const got = new Map(await mosquittoSub(b.ports.mqtt!, '$SYS/broker/version', 1));
    assert.equal(got.get('$SYS/broker/version'), `junction version ${readPackageVersion()}`);
    const stomp = await RawStomp.connect(b.ports.stomp!);
    stomp.send('SEND', { destination: '/topic/$SYS.broker.version', receipt: 'r1' }, 'fake');
    const answer = await stomp.take((f) => f.command === 'ERROR' || f.command === 'RECEIPT', 'an answer');
    assert.equal(answer.command, 'ERROR');
  });

  it('a STOMP client reads them as /topic/$SYS.broker.<path>', async () => {
    const stomp = await RawStomp.connect(b.ports.stomp!);
    await stomp.sendWithReceipt('SUBSCRIBE', { id: 's1', destination: '/topic/$SYS.broker.uptime' });
    const msg = await stomp.take((f) => f.command === 'MESSAGE', 'a $SYS MESSAGE');
    assert.equal(msg.headers.destination, '/topic/$SYS.broker.uptime');
    assert.match(msg.body.toString(), /^\d+ seconds$/);
    await stomp.disconnect();
  });

  it('sys.intervalSeconds 0 publishes nothing', async () => {
    await b.close();
    b = await startBroker({ sys: { intervalSeconds: 0 } });
    const { client, inbox } = await connectInbox(`mqtt://${TEST_HOST}:${b.ports.mqtt}`);
    await client.subscribeAsync(['$SYS/#', 'mark'], { qos: 1 });
    await client.publishAsync('mark', 'x', { qos: 1 });
    await inbox.waitCount(1);
    assert.deepEqual(inbox.messages.map((m) => m.topic), ['mark'], 'no retained $SYS message on subscribe');
    assert.equal(b.broker.retained.match('$SYS.#').length, 0);
  });
});
