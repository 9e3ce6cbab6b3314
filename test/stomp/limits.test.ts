/**
 * Per-connection bounds of the STOMP adapter: limits.maxConnections across its plain, TLS and
 * WebSocket listeners, and the memory a subscriber that never reads can make the broker hold.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import type { Socket } from 'node:net';
import { join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import { firstBytes, removeTempDir, requireDebianClient, tempDir, tlsHandshakes, TEST_HOST, upgradeAnswer } from '../support/index.js';
import { delay, RawStomp, startStomp, stompjs, type StompBroker } from './helpers.js';

const CONNECT = 'CONNECT\naccept-version:1.2\nhost:/\n\n\0';

/** Resolves with what the server sent before closing, or once CONNECTED arrives (then stays open). */
function firstReply(socket: Socket): Promise<string> {
  return new Promise((resolve) => {
    let data = '';
    socket.on('data', (d) => {
      data += d;
      if (data.includes('\0')) resolve(data);
    });
    socket.on('error', () => undefined);
    socket.on('close', () => resolve(data));
  });
}

describe('STOMP limits', function () {
  this.timeout(120000);

  describe('limits.maxConnections across plain, TLS and WebSocket listeners', () => {
    let dir: string;
    let cert: string;
    let s: StompBroker;
    before(requireDebianClient('openssl', 'openssl'));
    before(async () => {
      dir = tempDir('junction-stomp-limit-');
      cert = join(dir, 'cert.pem');
      const key = join(dir, 'key.pem');
      execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '2', '-subj', '/CN=localhost'], { stdio: 'ignore' });
      s = await startStomp({ limits: { maxConnections: 3 }, stomp: { tls: { cert, key } } as never });
    });
    after(async () => {
      await s?.close();
      if (dir) removeTempDir(dir);
    });

    it('a plain, a TLS and a WebSocket (@stomp/stompjs) connection fill a limit of 3: a fourth on any listener is closed without a byte until one closes', async () => {
      const plain = await RawStomp.connect(s.port);
      const tlsSocket = tlsConnect({ host: TEST_HOST, port: s.b.ports['stomp-tls']!, ca: readFileSync(cert), servername: 'localhost' }, () => tlsSocket.write(CONNECT));
      assert.match(await firstReply(tlsSocket), /^CONNECTED\n/);
      const browser = await stompjs(s.wsUrl);

      assert.equal(await firstBytes(s.port, CONNECT), '', 'the fourth plain connection is closed without an answer');
      assert.equal(await tlsHandshakes(s.b.ports['stomp-tls']!), false, 'the fourth TLS connection is closed before the handshake');
      assert.equal(await upgradeAnswer(s.b.ports.http!, '/stomp', 'v12.stomp'), '', 'the fourth (WebSocket) is closed before the upgrade is answered');

      // The three admitted still work: the browser client gets what the plain one sends.
      // A queue: the message waits for the subscription if it arrives first.
      const got = new Promise<string>((resolve) => browser.subscribe('/queue/limit-check', (m) => resolve(m.body)));
      await plain.sendWithReceipt('SEND', { destination: '/queue/limit-check' }, 'across listeners');
      assert.equal(await got, 'across listeners');

      await browser.deactivate();
      // The gate counts the WebSocket out when its socket closes; then a new connection is accepted.
      let again: RawStomp | undefined;
      for (let i = 0; !again && i < 200; i++) again = await RawStomp.connect(s.port).catch(() => delay(10).then(() => undefined));
      assert.ok(again, 'a connection accepted again after one closed');
      await again.disconnect();
      await plain.disconnect();
      tlsSocket.destroy();
    });
  });

  describe('a SEND whose queue may not be created (limits.maxQueues)', () => {
    let s: StompBroker;
    before(async () => { s = await startStomp({ limits: { maxQueues: 1 } }); });
    after(async () => s?.close());

    it('gets an ERROR, and the connection is released (it used to stay counted against the connection limits)', async () => {
      const c = await RawStomp.connect(s.port);
      await c.sendWithReceipt('SEND', { destination: '/queue/only-one' }, 'one');
      await assert.rejects(c.sendWithReceipt('SEND', { destination: '/queue/one-too-many' }, 'two'), /limits\.maxQueues/);
      await c.closed;
      let open = s.b.clients.list().length;
      for (let i = 0; i < 200 && open > 0; i++) {
        await delay(10);
        open = s.b.clients.list().length;
      }
      assert.equal(open, 0, 'no STOMP connection left in the registry');
    });
  });

  describe('a subscriber that never reads', () => {
    const QUEUE_BOUND = 8 * 1024 * 1024;
    let s: StompBroker;
    before(async () => { s = await startStomp({ queues: { maxBytes: QUEUE_BOUND } }); });
    after(async () => s?.close());

    for (const kind of ['queue', 'topic'] as const) {
      it(`/${kind}/: broker memory stays bounded while a producer offers 200 MB, the producer is held back, a canary works`, async () => {
        const dest = `/${kind}/unread-${kind}`;
        const reader = await RawStomp.connect(s.port);
        await reader.sendWithReceipt('SUBSCRIBE', { id: '1', destination: dest });
        reader.socket.pause();
        const start = process.memoryUsage();
        let peak = 0;
        const sample = setInterval(() => {
          const m = process.memoryUsage();
          peak = Math.max(peak, m.heapUsed + m.arrayBuffers - start.heapUsed - start.arrayBuffers);
        }, 20);

        // The producer writes with back-pressure (its own memory stays small) until the broker
        // stops taking bytes, or until it has offered 200 MB.
        const producer = await RawStomp.connect(s.port);
        const body = Buffer.alloc(64 * 1024, 'x');
        const frame = Buffer.concat([Buffer.from(`SEND\ndestination:${dest}\ncontent-length:${body.length}\n\n`), body, Buffer.from([0])]);
        const total = 200 * 1024 * 1024;
        let written = 0;
        let stalled = false;
        while (written < total && !stalled) {
          if (producer.socket.write(frame)) {
            written += frame.length;
            continue;
          }
          written += frame.length;
          stalled = !(await new Promise<boolean>((resolve) => {
            const t = setTimeout(() => resolve(false), 2000);
            producer.socket.once('drain', () => { clearTimeout(t); resolve(true); });
          }));
        }
        clearInterval(sample);
        assert.ok(stalled, `the producer is held back (offered ${written} bytes)`);
        assert.ok(written < total, 'not all 200 MB were taken');
        assert.ok(peak < 96 * 1024 * 1024, `broker memory grew by ${(peak / 1048576).toFixed(1)} MiB`);

        const canary = await RawStomp.connect(s.port);
        await canary.sendWithReceipt('SUBSCRIBE', { id: 'c', destination: '/queue/canary-limits' });
        await canary.sendWithReceipt('SEND', { destination: '/queue/canary-limits' }, `alive-${kind}`);
        assert.equal((await canary.expect('MESSAGE')).body.toString(), `alive-${kind}`);
        await canary.disconnect();
        producer.destroy();
        reader.destroy();
        await producer.closed;
        await reader.closed;
      });
    }
  });
});
