/**
 * What one Kafka connection may hold: requests before SASL authentication are small, every request
 * is within kafka.maxRequestBytes, idle, half-open and stalled connections are closed, and
 * limits.maxConnections is enforced on the listener.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { encodeBatch } from '../../core/stream/record-codec.js';
import { ApiKey } from '../../adapters/kafka/protocol/apis.js';
import { resolveKafkaSettings } from '../../adapters/kafka/config.js';
import { RawKafkaClient } from './raw-client.js';
import { HOST, kafkajs, startKafka, type KafkaTestBroker } from './support.js';
import { createTestPki } from '../support/certificates.js';
import { eventually, firstBytes, removeTempDir, requireDebianClient, tempDir, tlsHandshakes } from '../support/index.js';

/** A frame header announcing `size` bytes, followed by `sent` of them. */
function partialFrame(size: number, sent: number): Buffer {
  const b = Buffer.alloc(4 + sent, 1);
  b.writeInt32BE(size, 0);
  return b;
}

function produce(topic: string, valueBytes: number) {
  const records = encodeBatch([{ timestamp: Date.now(), key: null, value: Buffer.alloc(valueBytes, 5), headers: [] }]);
  return { transactionalId: null, acks: -1, timeoutMs: 5000, topicData: [{ name: topic, partitionData: [{ index: 0, records }] }] };
}

function closedSocket(s: Socket): Promise<void> {
  return new Promise((resolve) => (s.destroyed ? resolve() : s.once('close', () => resolve())));
}

describe('kafka: connection limits', function () {
  this.timeout(30000);
  let b: KafkaTestBroker;
  const clients: RawKafkaClient[] = [];
  afterEach(async () => {
    for (const c of clients.splice(0)) c.close();
    await b.close();
  });

  async function client(): Promise<RawKafkaClient> {
    const c = await RawKafkaClient.connect(b.port);
    clients.push(c);
    return c;
  }

  it('before SASL authentication a request over 64 KiB closes the connection; after it, large requests are fine', async () => {
    b = await startKafka({ auth: { users: { alice: 'wonderland' }, allowAnonymous: false } });
    await b.broker.createStream('t', { partitions: 1 });

    const early = await client();
    assert.equal((await early.request(ApiKey.ApiVersions, 0, {})).errorCode, 0, 'small requests are served before SASL');
    early.sendRaw(partialFrame(100 * 1024 * 1024, 1000));
    assert.equal(await early.waitClosed(), true, 'a 100 MB announcement closes the connection at once');

    const tooBig = await client();
    tooBig.sendRaw(tooBig.encode(ApiKey.Produce, 7, produce('t', 70 * 1024)));
    assert.equal(await tooBig.waitClosed(), true, 'a complete 70 KiB request before SASL closes it too');

    const authed = await client();
    assert.equal((await authed.request(ApiKey.SaslHandshake, 1, { mechanism: 'PLAIN' })).errorCode, 0);
    const auth = await authed.request(ApiKey.SaslAuthenticate, 0, { authBytes: Buffer.from('\0alice\0wonderland') });
    assert.equal(auth.errorCode, 0);
    const r = await authed.request(ApiKey.Produce, 7, produce('t', 200 * 1024));
    assert.equal(r.responses[0].partitionResponses[0].errorCode, 0, 'a 200 KiB produce after authentication');
  });

  it('a request over kafka.maxRequestBytes closes the connection; the broker keeps serving', async () => {
    b = await startKafka({ kafka: { maxRequestBytes: 4096 } });
    const c = await client();
    c.sendRaw(partialFrame(5000, 10));
    assert.equal(await c.waitClosed(), true);
    const next = await client();
    assert.equal((await next.request(ApiKey.ApiVersions, 0, {})).errorCode, 0);
  });

  it('limits.maxFrameBytes bounds kafka.maxRequestBytes', async () => {
    b = await startKafka();
    assert.equal(resolveKafkaSettings({ kafka: { maxRequestBytes: 1 << 20 }, limits: { maxFrameBytes: 2048 } }).maxRequestBytes, 2048);
    assert.equal(resolveKafkaSettings({ kafka: {}, limits: { maxFrameBytes: 16 << 20 } }).maxRequestBytes, 16 << 20);
  });

  it('closes a connection idle for kafka.idleTimeoutMs', async () => {
    b = await startKafka({ kafka: { idleTimeoutMs: 300 } });
    const c = await client();
    assert.equal((await c.request(ApiKey.ApiVersions, 0, {})).errorCode, 0);
    assert.equal(await c.waitClosed(5000), true);
  });

  it('keeps a connection whose Fetch is parked longer than the idle timeout', async () => {
    b = await startKafka({ kafka: { idleTimeoutMs: 300 } });
    await b.broker.createStream('quiet', { partitions: 1 });
    const c = await client();
    c.send(ApiKey.Fetch, 11, {
      replicaId: -1, maxWaitMs: 1000, minBytes: 1, maxBytes: 1024, isolationLevel: 0, sessionId: 0, sessionEpoch: -1,
      topics: [{ topic: 'quiet', partitions: [{ partition: 0, fetchOffset: 0, partitionMaxBytes: 1024, currentLeaderEpoch: -1, logStartOffset: -1 }] }],
      forgottenTopicsData: [], rackId: '',
    });
    const f = await c.response(ApiKey.Fetch, 11);
    assert.equal(f.responses[0].partitions[0].errorCode, 0, 'the long poll ends normally after 1 s');
  });

  it('closes a connection that sends nothing within kafka.handshakeTimeoutMs, or stalls inside a request', async () => {
    b = await startKafka({ kafka: { handshakeTimeoutMs: 300 } });
    const silent = await client();
    assert.equal(await silent.waitClosed(5000), true, 'no first request');

    const halfFirst = await client();
    halfFirst.sendRaw(partialFrame(100, 10));
    assert.equal(await halfFirst.waitClosed(5000), true, 'first request never completed');

    const stalled = await client();
    assert.equal((await stalled.request(ApiKey.ApiVersions, 0, {})).errorCode, 0);
    await new Promise((r) => setTimeout(r, 500));
    assert.equal(stalled.closed, false, 'a quiet connection between requests is only subject to the idle timeout');
    stalled.sendRaw(partialFrame(100, 10));
    assert.equal(await stalled.waitClosed(5000), true, 'the rest of the request never came');
  });

  it('limits.maxConnections: an extra connection is closed while the first ones work', async () => {
    b = await startKafka({ limits: { maxConnections: 2 } });
    const first = await client();
    const second = await client();
    const extra = connect(b.port, HOST);
    extra.on('error', () => undefined);
    await closedSocket(extra);
    assert.equal((await first.request(ApiKey.ApiVersions, 0, {})).errorCode, 0);
    assert.equal((await second.request(ApiKey.ApiVersions, 0, {})).errorCode, 0);
    first.close();
    // Until the broker has seen the close the slot is taken: such a try is closed without an answer.
    await eventually(async () => (await (await client()).request(ApiKey.ApiVersions, 0, {})).errorCode === 0, { what: 'a slot freed by a close is reusable' });
  });

  describe('limits.maxConnections across the plain and TLS listeners (kafkajs)', () => {
    let dir: string;
    before(requireDebianClient('openssl', 'openssl'));
    after(() => { if (dir) removeTempDir(dir); });

    it('a plain and a TLS kafkajs producer fill a limit of 2 (one connection each: the broker advertises the address they bootstrapped from): a third socket on either listener is closed without a byte', async () => {
      dir = tempDir('junction-kafka-limit-');
      const pki = createTestPki(dir);
      const ca = readFileSync(pki.ca);
      b = await startKafka({ limits: { maxConnections: 2 }, tls: { cert: readFileSync(pki.serverCert), key: readFileSync(pki.serverKey) } });
      await b.broker.createStream('limit.t', { partitions: 1 });
      const plain = kafkajs(b.bootstrap, { retry: { retries: 0 } }).producer();
      const secure = kafkajs(`${HOST}:${b.tlsPort}`, { ssl: { ca: [ca] }, retry: { retries: 0 } }).producer();
      try {
        await plain.connect();
        await plain.send({ topic: 'limit.t', messages: [{ value: 'plain' }] });
        await secure.connect();
        await secure.send({ topic: 'limit.t', messages: [{ value: 'tls' }] });

        // ApiVersions v0: size, api key 18, version 0, correlation id 1, client id "x".
        const apiVersions = Buffer.from([0, 0, 0, 11, 0, 18, 0, 0, 0, 0, 0, 1, 0, 1, 0x78]);
        assert.equal(await firstBytes(b.port, apiVersions), '', 'plain: no ApiVersions response');
        assert.equal(await tlsHandshakes(b.tlsPort!), false, 'TLS: no handshake');
        const refused = kafkajs(b.bootstrap, { retry: { retries: 0 } }).admin();
        await assert.rejects(refused.connect(), 'a third client cannot connect');

        // The admitted ones keep working.
        await plain.send({ topic: 'limit.t', messages: [{ value: 'plain again' }] });
        await secure.send({ topic: 'limit.t', messages: [{ value: 'tls again' }] });
        assert.equal(b.broker.getStream('limit.t')!.partitions[0].highWatermark, 4);
      } finally {
        await plain.disconnect();
        await secure.disconnect();
      }
    });
  });
});
