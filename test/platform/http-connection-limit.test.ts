/**
 * The HTTP listener's connection limit (`limits.maxConnections`, a ConnectionGate like every
 * adapter's): past it a new socket is closed on accept, before any HTTP (or TLS) work, while the
 * connections already open keep being served; a place freed is taken again.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import { pino } from 'pino';
import type { Logger } from '../../core/adapter.js';
import { HttpListener } from '../../plugins/http/index.js';
import { requireDebianClient } from '../support/debian.js';
import { startBroker, TEST_HOST } from '../support/broker.js';
import { eventually, selfSignedCert } from '../support/index.js';

const silent = pino({ level: 'silent' }) as unknown as Logger;
const CONFIG = { port: 0, maxHeaderBytes: 16384, headersTimeoutMs: 10000, requestTimeoutMs: 30000, keepAliveTimeoutMs: 30000, maxWebSocketMessageBytes: 1 << 20 };

/** A keep-alive HTTP/1.1 client on one socket: get() sends a request and resolves with the status. */
class KeepAlive {
  private buf = '';
  private wake: (() => void) | null = null;
  closed = false;
  constructor(readonly socket: Socket | tls.TLSSocket) {
    socket.setEncoding('utf8');
    socket.on('data', (d: string) => { this.buf += d; this.wake?.(); });
    socket.on('close', () => { this.closed = true; this.wake?.(); });
    socket.on('error', () => undefined);
  }

  async get(path: string): Promise<number> {
    this.buf = '';
    this.socket.write(`GET ${path} HTTP/1.1\r\nHost: x\r\n\r\n`);
    for (;;) {
      const m = /^HTTP\/1\.1 (\d+)[^]*?\r\n\r\n/.exec(this.buf);
      const len = /content-length: (\d+)/i.exec(this.buf);
      if (m && len && this.buf.length >= m[0].length + Number(len[1])) return Number(m[1]);
      if (this.closed) throw new Error(`closed; got ${JSON.stringify(this.buf)}`);
      await new Promise<void>((r) => { this.wake = r; });
    }
  }

  /** Resolves with what the server sent before it closed the socket. */
  async closedWith(): Promise<string> {
    while (!this.closed) await new Promise<void>((r) => { this.wake = r; });
    return this.buf;
  }
}

function plain(port: number): Promise<KeepAlive> {
  return new Promise((resolve, reject) => {
    const s = connect(port, TEST_HOST, () => resolve(new KeepAlive(s)));
    s.once('error', reject);
  });
}

describe('http: connection limit', function () {
  this.timeout(30000);

  it('three open: a fourth is closed without a byte, the three keep being served, a freed place is taken', async () => {
    const http = new HttpListener({ config: CONFIG, host: TEST_HOST, port: 0, maxConnections: 3, tls: null, log: silent });
    const { port } = await http.start();
    try {
      const open = [await plain(port), await plain(port), await plain(port)];
      for (const c of open) assert.equal(await c.get('/healthz'), 200);
      const extra = await plain(port);
      extra.socket.write('GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n');
      assert.equal(await extra.closedWith(), '');
      assert.equal(http.connections.refused, 1);
      for (const c of open) assert.equal(await c.get('/healthz'), 200);
      open[0].socket.destroy();
      await eventually(() => http.connections.count === 2);
      const again = await plain(port);
      assert.equal(await again.get('/healthz'), 200);
      again.socket.destroy();
      for (const c of open) c.socket.destroy();
    } finally {
      await http.stop(100);
    }
  });

  describe('over TLS', () => {
    let dir: string;
    let pem: { cert: string; key: string };
    before(requireDebianClient('openssl', 'openssl'));
    before(() => {
      dir = mkdtempSync(join(tmpdir(), 'http-gate-'));
      pem = selfSignedCert(dir);
    });
    after(() => { if (dir) rmSync(dir, { recursive: true, force: true }); });

    it('past the limit the socket is closed before the TLS handshake; the open ones keep working', async () => {
      const http = new HttpListener({
        config: CONFIG, host: TEST_HOST, port: 0, maxConnections: 2, log: silent,
        tls: { cert: readFileSync(pem.cert), key: readFileSync(pem.key) },
      });
      const { port } = await http.start();
      const secure = (): Promise<KeepAlive | null> => new Promise((resolve) => {
        const s = tls.connect({ port, host: TEST_HOST, rejectUnauthorized: false, servername: 'localhost' }, () => resolve(new KeepAlive(s)));
        s.once('error', () => resolve(null));
        s.once('close', () => resolve(null));
      });
      try {
        const a = await secure();
        const b = await secure();
        assert.ok(a && b);
        assert.equal(await secure(), null);
        assert.equal(await a.get('/healthz'), 200);
        assert.equal(await b.get('/readyz'), 503);
        a.socket.destroy();
        b.socket.destroy();
      } finally {
        await http.stop(100);
      }
    });
  });

  it('the broker\'s HTTP listener takes limits.maxConnections', async () => {
    const b = await startBroker({ protocols: [], limits: { maxConnections: 2 } });
    try {
      const port = b.ports.http!;
      const open = [await plain(port), await plain(port)];
      for (const c of open) assert.equal(await c.get('/healthz'), 200);
      const extra = await plain(port);
      assert.equal(await extra.closedWith(), '');
      assert.equal(await open[1].get('/healthz'), 200);
      for (const c of open) c.socket.destroy();
    } finally {
      await b.close();
    }
  });
});
