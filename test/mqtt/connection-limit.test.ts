/**
 * limits.maxConnections counts MQTT sockets across TCP, TLS and WebSocket, checked on accept by the
 * listener service: a socket over the limit is closed before a byte (no CONNACK, no TLS handshake,
 * no answer to the WebSocket upgrade).
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import mqttPacket from 'mqtt-packet';
import { eventually, firstBytes, removeTempDir, requireDebianClient, selfSignedCert, tempDir, TEST_HOST, tlsHandshakes, upgradeAnswer } from '../support/index.js';
import { connect, endAll, Inbox, startMqtt, uid, type MqttTestBroker } from './helpers.js';

const CONNECT = mqttPacket.generate({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: true, clientId: 'over-the-limit', keepalive: 0 });

describe('mqtt connection limit across listeners', () => {
  let dir: string;
  let t: MqttTestBroker;
  before(requireDebianClient('openssl', 'openssl'));
  before(async () => {
    dir = tempDir();
    t = await startMqtt({ limits: { maxConnections: 3 } as never, mqtt: { tls: selfSignedCert(dir) } });
  });
  afterEach(endAll);
  after(async () => {
    await t?.close();
    if (dir) removeTempDir(dir);
  });

  it('a TCP, a TLS and a WebSocket client fill a limit of 3: a fourth on any listener is closed without a byte; the three keep working', async () => {
    const ca = readFileSync(join(dir, 'cert.pem'));
    const plain = await connect(t.url, { clientId: uid('plain') });
    const secure = await connect(`mqtts://${TEST_HOST}:${t.b.ports['mqtt-tls']}`, { ca, servername: 'localhost', clientId: uid('tls') });
    const ws = await connect(t.wsUrl, { clientId: uid('ws') });

    assert.equal(await firstBytes(t.port, CONNECT), '', 'TCP: no CONNACK');
    assert.equal(await tlsHandshakes(t.b.ports['mqtt-tls']!), false, 'TLS: no handshake');
    assert.equal(await upgradeAnswer(t.b.ports.http!, '/mqtt', 'mqtt'), '', 'WebSocket: the upgrade is not answered');
    const metrics = await (await fetch(`http://${TEST_HOST}:${t.b.ports.http}/metrics`)).text();
    assert.match(metrics, /^junction_connections_refused_total\{protocol="mqtt",reason="limit"\} 3$/m);

    const inbox = new Inbox(plain);
    await plain.subscribeAsync('limit/#', { qos: 1 });
    await secure.publishAsync('limit/a', 'from tls', { qos: 1 });
    await ws.publishAsync('limit/b', 'from ws', { qos: 1 });
    assert.deepEqual([(await inbox.next()).payload.toString(), (await inbox.next()).payload.toString()].sort(), ['from tls', 'from ws']);

    await ws.endAsync();
    await eventually(() => t.adapter().connectionCount === 2, { what: 'WebSocket client gone' });
    // The slot is counted out on the socket's close event, which may follow the client's end.
    let again: Awaited<ReturnType<typeof connect>> | undefined;
    for (let i = 0; !again && i < 50; i++) again = await connect(t.url, { clientId: uid('again') }).catch(() => undefined);
    assert.ok(again, 'a TCP client admitted once a place is free');
    await again.publishAsync('limit/c', 'after a place freed', { qos: 1 });
    assert.equal((await inbox.next()).payload.toString(), 'after a place freed');
  });
});
