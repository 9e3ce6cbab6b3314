/**
 * `junction send URL` / `junction receive URL` for every scheme, messages crossing protocols
 * (the example first: MQTT in, Kafka out), TLS schemes, and one-line failures.
 */
import assert from 'node:assert/strict';
import { removeTempDir, requireDebianClient, type RunningBroker, selfSignedCert, startBroker, tempDir } from '../support/index.js';
import { junction, oneLineFailure, start, type CliResult } from './run.js';

const H = '127.0.0.1';

/** For pub/sub destinations: sends until the already running receiver has got what it waited for. */
async function sendUntilReceived(receiver: ReturnType<typeof start>, sendArgs: string[]): Promise<CliResult> {
  let exited = false;
  void receiver.result.then(() => { exited = true; });
  for (let i = 0; i < 40 && !exited; i++) {
    const s = await junction(sendArgs);
    assert.equal(s.code, 0, s.stderr);
    await Promise.race([receiver.result, new Promise((r) => setTimeout(r, 300))]);
  }
  return receiver.result;
}

describe('cli: send and receive over every protocol', function () {
  this.timeout(60_000);
  let b: RunningBroker;
  let p: Record<string, number>;
  before(async () => {
    b = await startBroker({ kafka: { groupInitialRebalanceDelayMs: 0 } } as never);
    p = b.ports as Record<string, number>;
    await b.auth.register!('alice', 'alice-pw');
  });
  after(async () => { await b?.close(); });

  it('send mqtt://.../sensors/t1 then receive kafka://.../sensors.t1 --from-beginning', async () => {
    await junction(['topics', '--create', '--bootstrap-server', `${H}:${p.kafka}`, '--topic', 'sensors.t1']);
    const s = await junction(['send', `mqtt://${H}:${p.mqtt}/sensors/t1`, '21.5']);
    assert.deepEqual([s.code, s.stdout, s.stderr], [0, '', '']);
    const r = await junction(['receive', `kafka://${H}:${p.kafka}/sensors.t1`, '--from-beginning', '--count', '1']);
    assert.deepEqual([r.code, r.stdout, r.stderr], [0, '21.5\n', '']);
  });

  it('kafka -> stomp topic, with a header and content type (--json)', async () => {
    const rx = start(['receive', `stomp://${H}:${p.stomp}/topic/sensors.t1`, '--count', '1', '--json']);
    const r = await sendUntilReceived(rx, ['send', `kafka://${H}:${p.kafka}/sensors.t1?key=room1`, 'from kafka', '--header', 'site=paris', '--content-type', 'text/plain']);
    assert.equal(r.code, 0, r.stderr);
    const m = JSON.parse(r.stdout);
    assert.equal(m.protocol, 'stomp');
    assert.equal(m.destination, '/topic/sensors.t1');
    assert.equal(m.body, 'from kafka');
    assert.equal(m.headers.site, 'paris');
    assert.equal(m.contentType, 'text/plain');
  });

  it('stomp queue -> amqp, stdin lines, in order', async () => {
    const s = await junction(['send', `stomp://${H}:${p.stomp}/queue/jobs`], 'job-1\njob-2\njob-3\n');
    assert.deepEqual([s.code, s.stderr], [0, '']);
    const r = await junction(['receive', `amqp://${H}:${p.amqp}/queue/jobs`, '--count', '2']);
    assert.deepEqual([r.code, r.stdout], [0, 'job-1\njob-2\n']);
    const rest = await junction(['receive', `stomp://${H}:${p.stomp}/queue/jobs`, '--count', '1', '--json']);
    const m = JSON.parse(rest.stdout);
    assert.deepEqual([m.protocol, m.body], ['stomp', 'job-3'], 'what the first receiver did not print stayed on the queue');
  });

  it('amqp queue -> stomp with headers, and amqp topic -> xmpp pubsub', async () => {
    let s = await junction(['send', `amqp://${H}:${p.amqp}/queue/work`, 'w1', '--header', 'prio=high']);
    assert.equal(s.code, 0, s.stderr);
    const r = await junction(['receive', `stomp://${H}:${p.stomp}/queue/work`, '--count', '1', '--json']);
    const m = JSON.parse(r.stdout);
    assert.deepEqual([m.body, m.headers.prio], ['w1', 'high']);

    const rx = start(['receive', `xmpp://alice:alice-pw@${H}:${p.xmpp}/news.amqp`, '--count', '1']);
    const x = await sendUntilReceived(rx, ['send', `amqp://${H}:${p.amqp}/topic/news.amqp`, 'extra! extra!']);
    assert.deepEqual([x.code, x.stdout], [0, 'extra! extra!\n'], x.stderr);
    s = await junction(['send', `xmpp://${H}:${p.xmpp}/news.amqp`, 'x']);
    assert.equal(oneLineFailure(s), 'junction send: this XMPP server needs a user: xmpp://user:password@host/node or --user/--password');
  });

  it('xmpp -> mqtt (wildcard), mqtt -> amqp topic, with --json fields', async () => {
    let rx = start(['receive', `mqtt://${H}:${p.mqtt}/news/+`, '--count', '1', '--json']);
    let r = await sendUntilReceived(rx, ['send', `xmpp://${H}:${p.xmpp}/news.xmpp`, '{"t":21}', '--user', 'alice', '--password', 'alice-pw', '--content-type', 'application/json']);
    assert.equal(r.code, 0, r.stderr);
    const m = JSON.parse(r.stdout);
    assert.deepEqual([m.protocol, m.topic, m.body, m.contentType], ['mqtt', 'news/xmpp', '{"t":21}', 'application/json']);

    rx = start(['receive', `amqp://${H}:${p.amqp}/topic/news.#`, '--count', '1']);
    r = await sendUntilReceived(rx, ['send', `mqtt://${H}:${p.mqtt}/news/mqtt?qos=1`, 'over amqp']);
    assert.deepEqual([r.code, r.stdout], [0, 'over amqp\n']);
  });

  it('receive ends after --timeout; fewer than --count is a failure line', async () => {
    let r = await junction(['receive', `mqtt://${H}:${p.mqtt}/quiet/topic`, '--timeout', '1']);
    assert.deepEqual([r.code, r.stdout, r.stderr], [0, '', '']);
    r = await junction(['receive', `mqtt://${H}:${p.mqtt}/quiet/topic`, '--timeout', '1', '--count', '2']);
    assert.equal(oneLineFailure(r), 'junction receive: 0 of 2 messages arrived before 1 s passed without one');
  });

  it('bad flags and URLs, unreachable brokers, unknown topic: one line, exit 1', async () => {
    assert.equal(oneLineFailure(await junction(['send', `mqtt://${H}:${p.mqtt}/a`, 'x', '--bogus'])), "junction send: unknown option '--bogus' (see junction send --help)");
    assert.match(oneLineFailure(await junction(['send', 'ftp://host/x', 'x'])), /^junction send: unsupported scheme "ftp:"/);
    assert.match(oneLineFailure(await junction(['receive', `mqtt://${H}:${p.mqtt}`])), /needs a destination path/);
    assert.match(oneLineFailure(await junction(['receive'])), /missing required argument 'url'/);
    for (const [scheme, name] of [['mqtt', 'MQTT'], ['stomp', 'STOMP'], ['amqp', 'AMQP'], ['kafka', 'Kafka'], ['xmpp', 'XMPP']]) {
      const line = oneLineFailure(await junction(['send', `${scheme}://u:p@${H}:1/a`, 'x']));
      assert.match(line, new RegExp(`^junction send: cannot reach the ${name} broker at 127\\.0\\.0\\.1:1: .*ECONNREFUSED`), line);
    }
    assert.equal(oneLineFailure(await junction(['receive', `kafka://${H}:${p.kafka}/no.such.topic`])), "junction receive: topic 'no.such.topic' does not exist");
    assert.equal(oneLineFailure(await junction(['send', `xmpp://alice:wrong@${H}:${p.xmpp}/n`, 'x'])), 'junction send: the XMPP server refused the login of alice (not-authorized)');
  });
});

describe('cli: send and receive over TLS (mqtts, stomps, stomp+ssl, amqps, kafkas, xmpps, XMPP STARTTLS)', function () {
  this.timeout(60_000);
  let b: RunningBroker;
  let p: Record<string, number>;
  let dir: string;
  let ca: string;
  before(requireDebianClient('openssl'));
  before(async () => {
    dir = tempDir();
    const tls = selfSignedCert(dir);
    ca = tls.cert;
    b = await startBroker({ tls, xmpp: { tlsPort: -1 }, kafka: { tlsPort: -1, groupInitialRebalanceDelayMs: 0 } } as never);
    p = b.ports as Record<string, number>;
    await b.auth.register!('carol', 'carol-pw');
  });
  after(async () => {
    await b?.close();
    if (dir) removeTempDir(dir);
  });

  it('a message through every TLS scheme, the server certificate checked against --ca', async () => {
    await junction(['topics', '--create', '--bootstrap-server', `${H}:${p.kafka}`, '--topic', 'secure.t']);
    let s = await junction(['send', `mqtts://localhost:${p['mqtt-tls']}/secure/t`, 'tls-1', '--ca', ca]);
    assert.equal(s.code, 0, s.stderr);
    s = await junction(['send', `kafkas://localhost:${p['kafka-tls']}/secure.t`, 'tls-2', '--ca', ca]);
    assert.equal(s.code, 0, s.stderr);
    let r = await junction(['receive', `kafkas://localhost:${p['kafka-tls']}/secure.t`, '--from-beginning', '--count', '2', '--ca', ca]);
    assert.deepEqual([r.code, r.stdout], [0, 'tls-1\ntls-2\n'], r.stderr);

    s = await junction(['send', `stomps://localhost:${p['stomp-tls']}/queue/secure`, 'tls-3', '--ca', ca]);
    assert.equal(s.code, 0, s.stderr);
    r = await junction(['receive', `amqps://localhost:${p['amqp-tls']}/queue/secure`, '--count', '1', '--ca', ca]);
    assert.deepEqual([r.code, r.stdout], [0, 'tls-3\n'], r.stderr);
    s = await junction(['send', `amqps://localhost:${p['amqp-tls']}/queue/secure`, 'tls-4', '--ca', ca]);
    r = await junction(['receive', `stomps://localhost:${p['stomp-tls']}/queue/secure`, '--count', '1', '--ca', ca]);
    assert.deepEqual([r.code, r.stdout], [0, 'tls-4\n'], r.stderr);
  });

  it('stomp+ssl://, xmpps:// (direct TLS) and xmpp:// (STARTTLS), the CA given to Node as NODE_EXTRA_CA_CERTS', async () => {
    let s = await junction(['send', `stomp+ssl://localhost:${p['stomp-tls']}/queue/secure2`, 'tls-5', '--ca', ca]);
    assert.equal(s.code, 0, s.stderr);
    let r = await junction(['receive', `stomps://localhost:${p['stomp-tls']}/queue/secure2`, '--count', '1', '--ca', ca]);
    assert.deepEqual([r.code, r.stdout], [0, 'tls-5\n'], r.stderr);

    const env = { NODE_EXTRA_CA_CERTS: ca };
    for (const url of [`xmpps://carol:carol-pw@localhost:${p['xmpp-tls']}/secure.x`, `xmpp://carol:carol-pw@localhost:${p.xmpp}/secure.x`]) {
      const rx = start(['receive', url, '--count', '1'], '', 30_000, env);
      let exited = false;
      void rx.result.then(() => { exited = true; });
      for (let i = 0; i < 40 && !exited; i++) {
        s = await junction(['send', url, 'over tls'], '', undefined, env);
        assert.equal(s.code, 0, s.stderr);
        await Promise.race([rx.result, new Promise((res) => setTimeout(res, 300))]);
      }
      r = await rx.result;
      assert.deepEqual([r.code, r.stdout], [0, 'over tls\n'], `${url}: ${r.stderr}`);
    }
    const line = oneLineFailure(await junction(['send', `xmpps://carol:carol-pw@localhost:${p['xmpp-tls']}/secure.x`, 'x']));
    assert.match(line, /self.signed certificate/i, 'without the CA the certificate is refused');
  });

  it('an unknown certificate is one line, exit 1; --insecure accepts it', async () => {
    const line = oneLineFailure(await junction(['send', `mqtts://localhost:${p['mqtt-tls']}/secure/t`, 'x']));
    assert.match(line, /self.signed certificate/i);
    const s = await junction(['send', `mqtts://localhost:${p['mqtt-tls']}/secure/t`, 'x', '--insecure']);
    assert.equal(s.code, 0, s.stderr);
  });
});
