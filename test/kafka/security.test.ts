/**
 * SASL (PLAIN, SCRAM-SHA-256/512) through the auth plugin, with kafkajs, kafka-python (bare
 * tokens after a v0 handshake) and kcat, each mechanism with a right and a wrong password;
 * authorisation rules; the TLS listener.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ApiKey } from '../../adapters/kafka/protocol/apis.js';
import { DEBIAN_PYTHON, eventually, requireDebianClient, skipUnlessDebianClient } from '../support/index.js';
import { RawKafkaClient } from './raw-client.js';
import { kafkajs, run, startKafka, type KafkaTestBroker } from './support.js';


describe('kafka: SASL and authorisation', function () {
  this.timeout(60000);
  let b: KafkaTestBroker;
  before(async () => {
    b = await startKafka({
      auth: {
        users: { alice: 'wonderland', bob: 'builder' },
        allowAnonymous: false,
        // No failed-login limit: the clients' wrong-password attempts (librdkafka retries) must not block the loopback address.
        maxFailuresPerMinute: 0,
        rules: [
          { user: 'bob', allow: ['subscribe'], address: '#' },
          { user: 'alice', allow: ['publish', 'subscribe', 'admin'], address: '#' },
        ],
      },
    });
    await b.broker.createStream('secured', { partitions: 1 });
  });
  after(async () => { await b.close(); });

  for (const mechanism of ['plain', 'scram-sha-256', 'scram-sha-512'] as const) {
    it(`kafkajs authenticates with ${mechanism} and produces`, async () => {
      const producer = kafkajs(b.bootstrap, { sasl: { mechanism, username: 'alice', password: 'wonderland' } as never }).producer();
      await producer.connect();
      const [r] = await producer.send({ topic: 'secured', messages: [{ value: mechanism }] });
      assert.equal(r.errorCode, 0);
      await producer.disconnect();
    });
  }

  it('refuses a wrong password and requests before authentication', async () => {
    const bad = kafkajs(b.bootstrap, { sasl: { mechanism: 'scram-sha-256', username: 'alice', password: 'nope' } as never, retry: { retries: 0 } }).producer();
    await assert.rejects(bad.connect(), /SASL|auth/i);
    const raw = await RawKafkaClient.connect(b.port);
    const v = await raw.request(ApiKey.ApiVersions, 0, {});
    assert.equal(v.errorCode, 0, 'ApiVersions is allowed before SASL');
    raw.send(ApiKey.Metadata, 1, { topics: null });
    assert.equal(await raw.waitClosed(), true, 'anything else closes the connection');
    const hs = await RawKafkaClient.connect(b.port);
    const r = await hs.request(ApiKey.SaslHandshake, 1, { mechanism: 'GSSAPI' });
    assert.deepEqual([r.errorCode, r.mechanisms], [33, ['PLAIN', 'SCRAM-SHA-256', 'SCRAM-SHA-512']]);
    hs.close();
  });

  it('applies the auth rules: bob may read but not write', async () => {
    const k = kafkajs(b.bootstrap, { sasl: { mechanism: 'plain', username: 'bob', password: 'builder' } as never, retry: { retries: 0 } });
    const producer = k.producer();
    await producer.connect();
    await assert.rejects(producer.send({ topic: 'secured', messages: [{ value: 'x' }] }), /authori[sz]/i);
    await producer.disconnect();
    const consumer = k.consumer({ groupId: 'bob-group', maxWaitTimeInMs: 100 });
    await consumer.connect();
    await consumer.subscribe({ topic: 'secured', fromBeginning: true });
    let n = 0;
    await consumer.run({ eachMessage: async () => { n++; } });
    await eventually(() => n >= 3, { timeout: 30000, what: 'bob reads the three messages' });
    await consumer.disconnect();
  });

  for (const mechanism of ['PLAIN', 'SCRAM-SHA-256', 'SCRAM-SHA-512']) {
    it(`kafka-python authenticates with ${mechanism} (bare tokens after a v0 handshake) and is refused a wrong password`, async function () {
      requireDebianClient('python3-kafka', 'python3:kafka').call(this);
      const script = `
import sys
from kafka import KafkaProducer
try:
    p = KafkaProducer(bootstrap_servers=sys.argv[1], security_protocol='SASL_PLAINTEXT', sasl_mechanism='${mechanism}',
                      sasl_plain_username='alice', sasl_plain_password=sys.argv[2], acks=-1, max_block_ms=10000)
    print(p.send('secured', b'from-python').get(timeout=30).offset)
    p.close()
except Exception as e:
    print('refused', type(e).__name__)
`;
      const ok = await run(DEBIAN_PYTHON, ['-c', script, b.bootstrap, 'wonderland'], undefined, 60000);
      assert.equal(ok.code, 0, ok.stderr);
      assert.match(ok.stdout, /^\d+\n$/);
      const bad = await run(DEBIAN_PYTHON, ['-c', script, b.bootstrap, 'not-wonderland'], undefined, 60000);
      assert.match(bad.stdout, /^refused /, bad.stdout + bad.stderr);
    });
  }

  for (const mechanism of ['PLAIN', 'SCRAM-SHA-256', 'SCRAM-SHA-512']) {
    it(`kcat authenticates with ${mechanism} and is refused a wrong password`, async function () {
      requireDebianClient('kcat').call(this);
      const args = (password: string) => ['-b', b.bootstrap, '-X', 'security.protocol=SASL_PLAINTEXT', '-X', `sasl.mechanisms=${mechanism}`,
        '-X', 'sasl.username=alice', '-X', `sasl.password=${password}`];
      const p = await run('kcat', [...args('wonderland'), '-P', '-t', 'secured'], `kcat-${mechanism}\n`);
      assert.equal(p.code, 0, p.stderr);
      const c = await run('kcat', [...args('wonderland'), '-C', '-t', 'secured', '-o', '-1', '-e', '-f', '%s\\n']);
      assert.equal(c.stdout, `kcat-${mechanism}\n`);
      const bad = await run('kcat', [...args('wrong'), '-L', '-m', '5']);
      assert.notEqual(bad.code, 0);
      assert.match(bad.stderr, /auth/i);
    });
  }
});

describe('kafka: TLS listener', function () {
  this.timeout(60000);
  let dir: string;
  let b: KafkaTestBroker;
  let bootstrap: string;
  before(requireDebianClient('openssl'));
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'junction-kafka-tls-'));
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'),
      '-days', '2', '-subj', '/CN=localhost', '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost'], { stdio: 'ignore' });
    b = await startKafka({ tls: { cert: readFileSync(join(dir, 'cert.pem')), key: readFileSync(join(dir, 'key.pem')) } });
    bootstrap = `127.0.0.1:${b.tlsPort}`;
  });
  after(async () => {
    await b?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('serves kafkajs over TLS, advertising the TLS port', async () => {
    const k = kafkajs(bootstrap, { ssl: { ca: [readFileSync(join(dir, 'cert.pem'))] } });
    const admin = k.admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic: 'tls-topic' }] });
    const md = await admin.fetchTopicMetadata({ topics: ['tls-topic'] });
    assert.equal(md.topics[0].partitions.length, 1);
    await admin.disconnect();
    const producer = k.producer();
    await producer.connect();
    await producer.send({ topic: 'tls-topic', messages: [{ value: 'secret' }] });
    await producer.disconnect();
  });

  it('serves kcat over TLS: what it produces it reads back', async function () {
    skipUnlessDebianClient(this, 'kcat', 'kcat');
    const ssl = ['-b', bootstrap, '-X', 'security.protocol=SSL', '-X', `ssl.ca.location=${join(dir, 'cert.pem')}`, '-t', 'tls-kcat'];
    const produced = await run('kcat', [...ssl, '-P'], 'secret\n');
    assert.equal(produced.code, 0, produced.stderr);
    const r = await run('kcat', [...ssl, '-C', '-o', 'beginning', '-e', '-f', '%s\\n']);
    assert.equal(r.stdout, 'secret\n', r.stderr);
  });
});
