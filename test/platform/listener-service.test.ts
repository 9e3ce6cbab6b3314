/**
 * The listener service every adapter gets (plugins/listeners): one naming scheme for listeners
 * (`<protocol>`, `<protocol>-tls`, `<protocol>-ws`) in /api, /metrics and the connection list,
 * the per-address connection rate, and the TLS handshake deadline.
 */
import assert from 'node:assert/strict';
import { get } from 'node:http';
import { connect as netConnect, type Socket } from 'node:net';
import { readFileSync } from 'node:fs';
import mqtt from 'mqtt';
import mqttPacket from 'mqtt-packet';
import rhea from 'rhea';
import { AdapterListeners, ConnectionRateLimiter } from '../../plugins/listeners/index.js';
import { ConnectionGate } from '../../core/connection-gate.js';
import { createTestPki, type TestPki } from '../support/certificates.js';
import { eventually, firstBytes, removeTempDir, requireDebianClient, type RunningBroker, startBroker, tempDir, TEST_HOST } from '../support/index.js';
import { call } from '../admin/helpers.js';

const MQTT_CONNECT = (id: string) => mqttPacket.generate({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: true, clientId: id, keepalive: 0 });

/** A raw MQTT CONNECT: resolves with the first bytes answered ('' = closed without a byte). */
function mqttAnswer(port: number, id: string): Promise<string> {
  return firstBytes(port, MQTT_CONNECT(id));
}

describe('platform/listener service', function () {
  this.timeout(60000);

  describe('listener names in /api, /metrics and the connection list', () => {
    let dir: string;
    let pki: TestPki;
    let b: RunningBroker;
    before(requireDebianClient('openssl', 'openssl'));
    before(async () => {
      dir = tempDir('junction-listeners-');
      pki = createTestPki(dir);
      b = await startBroker({ tls: { cert: pki.serverCert, key: pki.serverKey }, xmpp: { tlsPort: -1 } });
    });
    after(async () => {
      await b?.close();
      if (dir) removeTempDir(dir);
    });

    const NAMES = [
      'amqp', 'amqp-tls', 'http', 'kafka', 'kafka-tls', 'mqtt', 'mqtt-tls', 'mqtt-ws',
      'stomp', 'stomp-tls', 'stomp-ws', 'xmpp', 'xmpp-tls', 'xmpp-ws',
    ];

    it('every listener is <protocol>, <protocol>-tls or <protocol>-ws, in /api/overview and junction_listener_info', async () => {
      const overview = (await call(b, 'GET', '/api/overview')).json as { listeners: Array<{ name: string; protocol: string; port: number; tls: boolean; path?: string }> };
      assert.deepEqual(overview.listeners.map((l) => l.name).sort(), NAMES);
      for (const l of overview.listeners) {
        if (l.name === 'http') continue;
        assert.equal(l.name.split('-')[0], l.protocol);
        assert.equal(l.tls, l.name.endsWith('-tls'), `${l.name}: tls`);
        if (l.name.endsWith('-ws')) {
          assert.equal(l.port, b.ports.http, `${l.name}: on the HTTP port`);
          assert.equal(l.path, `/${l.protocol}`);
        } else {
          assert.equal(l.port, b.ports[l.name], `${l.name}: its own port`);
        }
      }
      const metrics = (await call(b, 'GET', '/metrics')).text;
      const names = [...metrics.matchAll(/^junction_listener_info\{listener="([^"]+)"/gm)].map((m) => m[1]).sort();
      assert.deepEqual(names, NAMES);
      assert.match(metrics, /^junction_listener_info\{listener="mqtt-ws",protocol="mqtt",host="127\.0\.0\.1",port="\d+",tls="false",path="\/mqtt"\} 1$/m);
    });

    it('clients over TLS are listed under mqtt-tls and amqp-tls in /api/connections', async () => {
      const ca = readFileSync(pki.ca);
      const m = await mqtt.connectAsync(`mqtts://${TEST_HOST}:${b.ports['mqtt-tls']}`, { ca, clientId: 'names-mqtt', reconnectPeriod: 0 });
      const container = rhea.create_container({ id: 'names-amqp' });
      const a = await new Promise<rhea.Connection>((resolve, reject) => {
        const c = container.connect({ host: TEST_HOST, port: b.ports['amqp-tls']!, transport: 'tls', ca, servername: 'localhost', reconnect: false } as rhea.ConnectionOptions);
        c.once('connection_open', () => resolve(c));
        c.once('disconnected', (ctx) => reject(ctx.error ?? new Error('disconnected')));
      });
      try {
        const list = (await call(b, 'GET', '/api/connections')).json as Array<{ protocol: string; listener: string }>;
        assert.deepEqual(list.map((c) => `${c.protocol} ${c.listener}`).sort(), ['amqp amqp-tls', 'mqtt mqtt-tls']);
      } finally {
        await m.endAsync();
        a.close();
      }
    });
  });

  describe('limits.connectionRate', () => {
    let b: RunningBroker;
    afterEach(async () => b?.close());

    it('an address past its burst is closed without a byte on every listener (one budget for the process), counted in /metrics; an exempt one is not limited', async () => {
      // 0.001 per second: no refill while the test runs.
      b = await startBroker({ limits: { connectionRate: { perSecond: 0.001, burst: 3, exempt: ['127.0.0.2'] } } as never });
      const admitted = await Promise.all([1, 2, 3].map((i) => mqttAnswer(b.ports.mqtt!, `rate-${i}`)));
      for (const a of admitted) assert.equal(a.charCodeAt(0), 0x20, 'CONNACK');
      assert.equal(await mqttAnswer(b.ports.mqtt!, 'rate-4'), '', 'MQTT: the fourth from the address is refused');
      assert.equal(await firstBytes(b.ports.stomp!, 'CONNECT\naccept-version:1.2\nhost:/\n\n\0'), '', 'STOMP: the same budget');
      assert.equal(await firstBytes(b.ports.http!, 'GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n'), '', 'HTTP too');
      // 127.0.0.2 is loopback too (Linux), and exempt here: it still gets in, and reads the count.
      const metrics = await new Promise<string>((resolve, reject) => {
        get({ host: TEST_HOST, port: b.ports.http, path: '/metrics', localAddress: '127.0.0.2' }, (res) => {
          let body = '';
          res.setEncoding('utf8');
          res.on('data', (d: string) => (body += d));
          res.on('end', () => resolve(body));
        }).on('error', reject);
      });
      assert.match(metrics, /^junction_connections_refused_total\{protocol="mqtt",reason="rate"\} 1$/m);
      assert.match(metrics, /^junction_connections_refused_total\{protocol="stomp",reason="rate"\} 1$/m);
    });

    it('loopback is exempt by default, so local tools and tests are not limited', async () => {
      b = await startBroker({ limits: { connectionRate: { perSecond: 0.001, burst: 1 } } as never });
      assert.deepEqual(b.config.limits.connectionRate.exempt, ['127.0.0.1', '::1']);
      for (let i = 0; i < 5; i++) assert.equal((await mqttAnswer(b.ports.mqtt!, `loop-${i}`)).charCodeAt(0), 0x20);
    });

    it('the bucket: a burst, then perSecond; IPv4-mapped addresses are their IPv4 address; forgotten once full again', () => {
      let now = 1_000_000;
      const r = new ConnectionRateLimiter({ perSecond: 2, burst: 3, exempt: ['10.0.0.9'] }, undefined, () => now);
      assert.deepEqual([1, 2, 3, 4].map(() => r.allow('10.0.0.1')), [true, true, true, false]);
      assert.equal(r.allow('::ffff:10.0.0.1'), false, 'the same address over IPv6-mapped IPv4');
      assert.equal(r.allow('10.0.0.2'), true, 'another address has its own budget');
      now += 500; // one token back at 2 per second
      assert.deepEqual([r.allow('10.0.0.1'), r.allow('10.0.0.1')], [true, false]);
      for (let i = 0; i < 10; i++) assert.equal(r.allow('::ffff:10.0.0.9'), true, 'exempt');
      assert.equal(r.refused, 3);
      assert.equal(r.tracked, 2);
      now += 120_000; // both buckets full again: the next check sweeps them out
      assert.equal(r.allow('10.0.0.3'), true);
      assert.equal(r.tracked, 1);
      const off = new ConnectionRateLimiter({ perSecond: 0, burst: 1, exempt: [] });
      for (let i = 0; i < 5; i++) assert.equal(off.allow('10.0.0.1'), true, 'perSecond 0: no rate limit');
    });
  });

  describe('TLS handshake deadline', () => {
    let dir: string;
    let b: RunningBroker;
    before(requireDebianClient('openssl', 'openssl'));
    after(async () => {
      await b?.close();
      if (dir) removeTempDir(dir);
    });

    it('a socket on a TLS listener that never finishes its handshake is closed after the adapter\'s handshake time', async () => {
      dir = tempDir('junction-tls-deadline-');
      const pki = createTestPki(dir);
      b = await startBroker({ protocols: ['mqtt'], mqtt: { connectTimeoutMs: 300, tls: { cert: pki.serverCert, key: pki.serverKey } } as never });
      const closed = await new Promise<boolean>((resolve) => {
        const s = netConnect({ host: TEST_HOST, port: b.ports['mqtt-tls']! });
        s.on('error', () => undefined);
        s.on('close', () => resolve(true));
      });
      assert.equal(closed, true);
    });
  });

  describe('the drain on stop', () => {
    const silent = { info() {}, warn() {}, error() {}, debug() {}, child() { return silent; } };
    function service(limit = 0): AdapterListeners {
      return new AdapterListeners({ protocol: 'echo', host: TEST_HOST, port: 0, tlsPort: null, tls: null, http: null, gate: new ConnectionGate('echo', limit), log: silent });
    }
    function dial(port: number): Promise<Socket> {
      return new Promise((resolve) => {
        const s = netConnect({ host: TEST_HOST, port }, () => resolve(s));
        s.on('error', () => undefined);
      });
    }

    it('close() resolves on the connections\' close events, not after the grace time', async function () {
      this.timeout(10000);
      const l = service();
      const served: Socket[] = [];
      // A connection that says goodbye and ends; the client closes its side when it sees the end.
      const [info] = await l.open({ socket: (socket) => { served.push(socket); return { shutdown: () => { socket.end('bye\n'); } }; } });
      const clients = await Promise.all([1, 2, 3].map(() => dial(info.port)));
      for (const c of clients) c.on('end', () => c.end()).resume(); // read, so the server's end is seen
      await eventually(() => l.count === 3);
      await l.close(60_000); // the grace would fail this test's 10 s timeout
      assert.equal(l.count, 0);
      assert.ok(served.every((s) => s.destroyed));
    });

    it('a connection that ignores shutdown() is destroyed when the grace time is over', async () => {
      const l = service();
      const served: Socket[] = [];
      const [info] = await l.open({ socket: (socket) => { served.push(socket); return { shutdown: () => undefined }; } });
      const client = await dial(info.port);
      await eventually(() => l.count === 1);
      await l.close(100);
      assert.equal(l.count, 0);
      assert.equal(served[0].destroyed, true);
      client.destroy();
    });
  });
});
