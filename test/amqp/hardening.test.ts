/**
 * Connection limit across the plain and TLS listeners (checked before the TLS handshake), rhea's
 * own console output going to the logger instead of stdout, and performatives whose lists or arrays
 * claim more elements than their frame has bytes (refused before rhea's decoder allocates them).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import rhea from 'rhea';
import { requireDebianClient } from '../support/debian.js';
import { recordingLogger, type LogRecord } from '../support/logger.js';
import { close, connect, openReceiver, openSender, receive, send, startAmqp, type Harness } from './helpers.js';
import { AMQP_HEADER, closeCondition, exchange, frame, opening, parse, rawFrame, SASL_HEADER } from './raw.js';
import { eventually, selfSignedCert } from '../support/index.js';

const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex');

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
      const { cert, key } = selfSignedCert(dir);
      h = await startAmqp({}, { limits: { maxConnections: 2 }, tls: { cert: readFileSync(cert), key: readFileSync(key) } });
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
      await eventually(() => h.adapter.connectionCount === 1);
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
      h = await startAmqp({}, { logger: recordingLogger(records) });
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
  describe('compound sizes and counts beyond the bytes of the frame', () => {
    let h: Harness;
    before(async () => {
      h = await startAmqp({});
    });
    after(async () => {
      await h?.stop();
    });

    // Each of these is a dozen bytes; rhea's decoder alone would build 16 million elements for most.
    const hostile = {
      openArrayOfNulls: rawFrame(hex('00 53 10 f0 00000005 01000000 40')),
      beginArrayOfEmptyLists: rawFrame(hex('00 53 11 f0 00000005 01000000 45')),
      attachListCount: rawFrame(hex('00 53 12 d0 00000004 ffffffff')),
      flowNestedArray: rawFrame(hex('00 53 13 c0 0b 01 f0 00000005 01000000 40')),
      mapCount: rawFrame(hex('00 53 12 c1 02 ff 40')),
    };

    it('each is answered with a close carrying amqp:decode-error, before and after open; a canary keeps working', async () => {
      assert.equal(closeCondition(await exchange(h.port, [AMQP_HEADER, hostile.openArrayOfNulls])), 'amqp:decode-error');
      for (const f of [hostile.beginArrayOfEmptyLists, hostile.attachListCount, hostile.flowNestedArray, hostile.mapCount]) {
        const out = await exchange(h.port, [...opening(), f]);
        assert.equal(closeCondition(out), 'amqp:decode-error');
        const close = parse(out).frames.find((x) => x.name === 'close');
        assert.match(String(close?.performative.error?.description), /count|size|runs past/);
      }
      const c = await connect(h.port);
      await roundTrip(c, 'bounds-canary');
      await close(c);
    });

    it('the same inside a SASL frame closes the connection', async () => {
      const out = await exchange(h.port, [SASL_HEADER, rawFrame(hex('00 53 41 f0 00000005 01000000 40'), 1)]);
      // Our SASL header and mechanisms went out; nothing after the refused frame.
      assert.equal(out.toString('latin1', 0, 4), 'AMQP');
      assert.ok(!parse(out).frames.some((f) => f.name === 'sasl_outcome'));
    });

    it('a frame split across many writes is walked whole: a hostile tail is refused, a good one accepted', async () => {
      const good = frame('attach', { name: 'x'.repeat(200), handle: 0, role: true, source: rhea.types.wrap_described([rhea.types.wrap_string('/topic/split')], 0x28) });
      const bytes = (b: Buffer) => Array.from(b, (_, i) => b.subarray(i, i + 1));
      const out = await exchange(h.port, [...opening(), ...bytes(good)], 300);
      assert.ok(parse(out).frames.some((f) => f.name === 'attach'), parse(out).frames.map((f) => f.name).join() + ' ' + closeCondition(out) + ' ' + String(parse(out).frames.at(-1)?.performative.error?.description));
      assert.equal(closeCondition(out), undefined);
      assert.equal(closeCondition(await exchange(h.port, [...opening(), ...bytes(hostile.flowNestedArray)])), 'amqp:decode-error');
    });

    it('forty of them at once leave memory where it was (bounded by the bytes sent, not the counts claimed)', async () => {
      const before = process.memoryUsage().rss;
      let peak = before;
      const sampler = setInterval(() => { peak = Math.max(peak, process.memoryUsage().rss); }, 2);
      try {
        const all = Object.values(hostile);
        const outs = await Promise.all(Array.from({ length: 40 }, (_, i) => exchange(h.port, [...opening(), all[i % all.length]])));
        assert.ok(outs.every((o) => closeCondition(o) === 'amqp:decode-error'));
      } finally {
        clearInterval(sampler);
      }
      peak = Math.max(peak, process.memoryUsage().rss);
      // 16 million elements are well over 100 MB each; 40 connections' worth of frames are a few KB.
      assert.ok(peak - before < 200 * 1024 * 1024, `RSS grew by ${Math.round((peak - before) / 1048576)} MB`);
      const c = await connect(h.port);
      await roundTrip(c, 'bounds-after');
      await close(c);
    });
  });
});
