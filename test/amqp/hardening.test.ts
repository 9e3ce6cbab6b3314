/**
 * Connection limit across the plain and TLS listeners (checked before the TLS handshake), and
 * rhea's own console output going to the logger instead of stdout.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import rhea from 'rhea';
import { requireDebianClient } from '../support/debian.js';
import { recordingLogger, type LogRecord } from '../support/logger.js';
import { close, connect, openReceiver, openSender, receive, send, startAmqp, until, type Harness } from './helpers.js';
import { AMQP_HEADER, exchange, frame, opening } from './raw.js';

const body = (r: { message: rhea.Message }) => r.message.body as unknown;

async function roundTrip(c: rhea.Connection, queue: string): Promise<void> {
  const s = await openSender(c, `/queue/${queue}`);
  assert.equal(await send(s, { body: queue }), 'accepted');
  const r = await openReceiver(c, `/queue/${queue}`);
  assert.deepEqual((await receive(r, 1)).map(body), [queue]);
}

/** Resolves true if a TLS connection gets through its handshake, false if the server drops it. */
function tlsHandshake(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = tls.connect({ port, host: '127.0.0.1', rejectUnauthorized: false, servername: 'localhost' }, () => { s.destroy(); resolve(true); });
    s.on('error', () => resolve(false));
    s.on('close', () => resolve(false));
  });
}

describe('amqp hardening', () => {
  describe('limits.maxConnections across plain and TLS', () => {
    let dir: string;
    let h: Harness & { tlsPort?: number };
    before(requireDebianClient('openssl', 'openssl'));
    before(async () => {
      dir = mkdtempSync(join(tmpdir(), 'amqp-gate-'));
      execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'), '-days', '2', '-subj', '/CN=localhost'], { stdio: 'ignore' });
      h = await startAmqp({}, { maxConnections: 2, tls: { cert: readFileSync(join(dir, 'cert.pem')), key: readFileSync(join(dir, 'key.pem')) } });
    });
    after(async () => {
      await h?.stop();
      if (dir) rmSync(dir, { recursive: true, force: true });
    });

    it('one plain and one TLS connection fill the limit: a third on either listener is refused, the two keep working', async () => {
      const plain = await connect(h.port);
      const secure = await connect(h.tlsPort!, { transport: 'tls', rejectUnauthorized: false, servername: 'localhost' });
      // Refused before any protocol work: no header back on plain, no handshake on TLS.
      assert.equal((await exchange(h.port, [AMQP_HEADER])).length, 0);
      assert.equal(await tlsHandshake(h.tlsPort!), false);
      await roundTrip(plain, 'gate-plain');
      await roundTrip(secure, 'gate-tls');
      await close(plain);
      await until(() => h.adapter.connectionCount === 1);
      // A place is free again.
      const again = await connect(h.port);
      await roundTrip(again, 'gate-again');
      await close(again);
      await close(secure);
    });
  });

  describe('rhea console output', () => {
    let h: Harness;
    const records: LogRecord[] = [];
    const printed: unknown[][] = [];
    const saved = { warn: console.warn, error: console.error };
    before(async () => {
      // Installed before the adapter so anything rhea still printed would land here.
      console.warn = (...args: unknown[]) => { printed.push(args); };
      console.error = (...args: unknown[]) => { printed.push(args); };
      h = await startAmqp({}, { log: recordingLogger(records) });
    });
    after(async () => {
      await h?.stop();
      console.warn = saved.warn;
      console.error = saved.error;
    });

    it('rhea\'s warning about an unknown terminus goes to the logger as one warn line, not to the console', async () => {
      const source = rhea.types.wrap_described([rhea.types.wrap_string('/queue/x')], 0x99);
      await exchange(h.port, [...opening(), frame('attach', { name: 'odd', handle: 0, role: true, source }), frame('close', {})]);
      assert.deepEqual(printed, []);
      const lines = records.filter((r) => r.level === 'warn' && (r.obj as { source?: string }).source === 'rhea');
      assert.equal(lines.length, 1);
      assert.match(lines[0].msg ?? '', /Unknown terminus/);
      // Others' console output is untouched.
      console.warn('not from rhea');
      assert.deepEqual(printed, [['not from rhea']]);
    });
  });
});
