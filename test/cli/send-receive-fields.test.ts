/**
 * `junction send` / `receive` per protocol: the URL options (MQTT qos/retain, Kafka key/partition),
 * `--header` and `--content-type` arriving in every protocol, and each protocol's `--json` fields.
 */
import assert from 'node:assert/strict';
import { startBroker, type RunningBroker } from '../support/index.js';
import { junction, start, type CliResult } from './run.js';

const H = '127.0.0.1';

async function json(r: Promise<CliResult>): Promise<Record<string, any>> {
  const done = await r;
  assert.equal(done.code, 0, done.stderr);
  const lines = done.stdout.trimEnd().split('\n');
  assert.equal(lines.length, 1, done.stdout);
  return JSON.parse(lines[0]);
}

async function sent(args: string[]): Promise<void> {
  const s = await junction(args);
  assert.deepEqual([s.code, s.stdout, s.stderr], [0, '', '']);
}

describe('cli: send and receive, URL options, headers and --json fields per protocol', function () {
  this.timeout(60_000);
  let b: RunningBroker;
  let p: Record<string, number>;
  before(async () => {
    b = await startBroker({ kafka: { groupInitialRebalanceDelayMs: 0 } } as never);
    p = b.ports as Record<string, number>;
    await b.auth.register!('bob', 'bob-pw');
  });
  after(async () => { await b?.close(); });

  it('mqtt: ?qos=1&retain=true, a header as an MQTT 5 user property, the content type', async () => {
    await sent(['send', `mqtt://${H}:${p.mqtt}/fields/m?qos=1&retain=true`, 'm1', '--header', 'a=1', '--content-type', 'text/plain']);
    // Retained: a receiver that subscribes afterwards still gets it.
    const m = await json(junction(['receive', `mqtt://${H}:${p.mqtt}/fields/m`, '--count', '1', '--json']));
    assert.deepEqual(m, { protocol: 'mqtt', topic: 'fields/m', qos: 1, retain: true, headers: { a: '1' }, contentType: 'text/plain', body: 'm1' });
  });

  it('kafka: ?key=k1&partition=2, a record header, --json with partition, offset, key, timestamp', async () => {
    await junction(['topics', '--create', '--bootstrap-server', `${H}:${p.kafka}`, '--topic', 'fields.k', '--partitions', '3']);
    await sent(['send', `kafka://${H}:${p.kafka}/fields.k?key=k1&partition=2`, 'k-body', '--header', 'h=v', '--content-type', 'text/plain']);
    const m = await json(junction(['receive', `kafka://${H}:${p.kafka}/fields.k`, '--from-beginning', '--count', '1', '--json']));
    assert.match(m.timestamp, /^\d{13}$/);
    delete m.timestamp;
    assert.deepEqual(m, { protocol: 'kafka', topic: 'fields.k', partition: 2, offset: '0', key: 'k1', headers: { h: 'v' }, contentType: 'text/plain', body: 'k-body' });
    const r = await junction(['console-consumer', '--bootstrap-server', `${H}:${p.kafka}`, '--topic', 'fields.k', '--from-beginning', '--max-messages', '1',
      '--property', 'print.key=true', '--property', 'print.partition=true', '--property', 'print.headers=true', '--property', 'key.separator= | ']);
    assert.match(r.stdout, /^Partition:2 \| h:v(,content-type:text\/plain)? \| k1 \| k-body\n$/, 'the same record through the Kafka tool');
  });

  it('stomp -> amqp and amqp -> stomp: headers become application properties and back', async () => {
    await sent(['send', `stomp://${H}:${p.stomp}/queue/fq`, 's-body', '--header', 'x=y', '--content-type', 'application/json']);
    let m = await json(junction(['receive', `amqp://${H}:${p.amqp}/queue/fq`, '--count', '1', '--json']));
    assert.deepEqual([m.protocol, m.address, m.headers.x, m.contentType, m.body], ['amqp', '/queue/fq', 'y', 'application/json', 's-body']);
    await sent(['send', `amqp://${H}:${p.amqp}/queue/fq`, 'a-body', '--header', 'x=z', '--content-type', 'text/plain']);
    m = await json(junction(['receive', `stomp://${H}:${p.stomp}/queue/fq`, '--count', '1', '--json']));
    assert.deepEqual([m.protocol, m.destination, m.headers.x, m.body], ['stomp', '/queue/fq', 'z', 'a-body']);
    assert.ok(m['message-id'], 'a STOMP message-id');
  });

  it('xmpp: --json with node, service and item id; --user/--password', async () => {
    const rx = start(['receive', `xmpp://${H}:${p.xmpp}/fields.x`, '--user', 'bob', '--password', 'bob-pw', '--count', '1', '--json']);
    let exited = false;
    void rx.result.then(() => { exited = true; });
    for (let i = 0; i < 40 && !exited; i++) {
      await sent(['send', `stomp://${H}:${p.stomp}/topic/fields.x`, 'to xmpp']);
      await Promise.race([rx.result, new Promise((r) => setTimeout(r, 300))]);
    }
    const m = await json(rx.result);
    assert.deepEqual([m.protocol, m.node, m.service, m.body], ['xmpp', 'fields.x', 'pubsub.localhost', 'to xmpp']);
    assert.ok(m['item-id'], 'an item id');
  });
});
