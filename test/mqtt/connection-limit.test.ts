/** limits.maxConnections counts MQTT sockets across TCP, TLS and WebSocket, before CONNECT (and before the TLS handshake). */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import { removeTempDir, requireDebianClient, tempDir, TEST_HOST } from '../support/index.js';
import { connect, connectRefused, endAll, eventually, Inbox, raw, startMqtt, uid, type MqttTestBroker } from './helpers.js';

/** True if the server completes a TLS handshake, false if it drops the socket first. */
function tlsHandshake(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = tlsConnect({ port, host: TEST_HOST, rejectUnauthorized: false, servername: 'localhost' }, () => { s.destroy(); resolve(true); });
    s.on('error', () => resolve(false));
    s.on('close', () => resolve(false));
  });
}

describe('mqtt connection limit across listeners', () => {
  let dir: string;
  let t: MqttTestBroker;
  before(requireDebianClient('openssl', 'openssl'));
  before(async () => {
    dir = tempDir();
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'), '-days', '2', '-subj', '/CN=localhost'], { stdio: 'ignore' });
    t = await startMqtt({ limits: { maxConnections: 2 } as never, mqtt: { tls: { cert: join(dir, 'cert.pem'), key: join(dir, 'key.pem') } } });
  });
  afterEach(endAll);
  after(async () => {
    await t?.close();
    if (dir) removeTempDir(dir);
  });

  it('one TCP and one TLS client fill the limit: a third on TCP, TLS or WebSocket is refused; the two keep working', async () => {
    const ca = readFileSync(join(dir, 'cert.pem'));
    const plain = await connect(t.url, { clientId: uid('plain') });
    const secure = await connect(`mqtts://${TEST_HOST}:${t.b.ports.mqtts}`, { ca, servername: 'localhost', clientId: uid('tls') });
    // Refused on accept: the TCP socket is closed without an answer to its CONNECT.
    const r = await raw(t.port);
    await r.closed;
    assert.deepEqual(r.packets, []);
    assert.equal(await tlsHandshake(t.b.ports.mqtts!), false);
    const ws = await connectRefused(t.wsUrl, { clientId: uid('ws') });
    assert.ok(ws, 'WebSocket refused');

    const inbox = new Inbox(plain);
    await plain.subscribeAsync('limit/#', { qos: 1 });
    await secure.publishAsync('limit/a', 'still here', { qos: 1 });
    assert.equal((await inbox.next()).payload.toString(), 'still here');

    await secure.endAsync();
    await eventually(() => t.adapter().connectionCount === 1, 'TLS client gone');
    const again = await connect(t.wsUrl, { clientId: uid('ws-again') });
    await again.publishAsync('limit/b', 'after a place freed', { qos: 1 });
    assert.equal((await inbox.next()).payload.toString(), 'after a place freed');
  });
});
