/**
 * Connection level: SASL through the auth plugin, idle and handshake timeouts, limits, and bad
 * input over raw sockets (the AMQP error condition and a close, never a crash, others unaffected).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import rhea from 'rhea';
import {
  close, connect, openReceiver, openSender, receive, refusal, send, startAmqp, tick, type Harness,
} from './helpers.js';
import { eventually, selfSignedCert, startBroker } from '../support/index.js';
import { requireDebianClient } from '../support/debian.js';
import { AMQP_HEADER, SASL_HEADER, closeCondition, exchange, frame, opening, parse, rawFrame, saslFrame } from './raw.js';

const body = (r: { message: rhea.Message }) => r.message.body as unknown;

function connectError(p: Promise<rhea.Connection>): Promise<string> {
  return p.then(
    (c) => { c.close(); throw new Error('connected'); },
    (e: { condition?: string; message?: string }) => e?.condition ?? e?.message ?? 'error',
  );
}

describe('amqp connections', function () {
  describe('SASL', () => {
    it('anonymous allowed: plain AMQP and SASL ANONYMOUS both connect; PLAIN authenticates the user', async () => {
      const auth = {
        users: { alice: 'secret' },
        allowAnonymous: true,
        rules: [{ user: 'alice', allow: ['publish'], address: 'alice.#' }, { user: '*', deny: ['publish'], address: 'alice.#' }, { user: '*', allow: ['publish', 'consume', 'subscribe'], address: '#' }],
      };
      const h = await startAmqp({}, { auth });
      try {
        const plain = await connect(h.port);
        const anon = await connect(h.port, { username: 'anonymous' });
        const alice = await connect(h.port, { username: 'alice', password: 'secret' });
        assert.equal(await refusal(openSender(anon, '/queue/alice.inbox')), 'amqp:unauthorized-access');
        await openSender(alice, '/queue/alice.inbox');
        await openSender(plain, '/queue/other');
        await Promise.all([close(plain), close(anon), close(alice)]);
      } finally {
        await h.stop();
      }
    });

    it('anonymous not allowed: SCRAM and PLAIN are offered (no ANONYMOUS, no EXTERNAL without a client certificate) and nothing gets in without them', async () => {
      const auth = { users: { bob: 'pw' }, allowAnonymous: false };
      const h = await startAmqp({}, { auth });
      try {
        // SASL mechanisms offered
        const out = await exchange(h.port, [SASL_HEADER], 200);
        const mechs = parse(out).frames[0].performative.sasl_server_mechanisms;
        assert.deepEqual([mechs].flat(), ['SCRAM-SHA-512', 'SCRAM-SHA-256', 'SCRAM-SHA-1', 'PLAIN']);
        // plain AMQP header: the broker answers with the SASL header and closes
        const refused = await exchange(h.port, [AMQP_HEADER]);
        assert.deepEqual(refused, SASL_HEADER);
        // no credentials (rhea skips SASL), ANONYMOUS, wrong password
        assert.notEqual(await connectError(connect(h.port)), 'connected');
        assert.notEqual(await connectError(connect(h.port, { username: 'anonymous' })), 'connected');
        assert.equal(await connectError(connect(h.port, { username: 'bob', password: 'wrong' })), 'amqp:unauthorized-access');
        const ok = await connect(h.port, { username: 'bob', password: 'pw' });
        await openSender(ok, '/queue/bob');
        await close(ok);
      } finally {
        await h.stop();
      }
    });

    it('a failed SASL exchange is closed by the broker', async () => {
      const auth = { users: { bob: 'pw' }, allowAnonymous: false };
      const h = await startAmqp({}, { auth });
      try {
        const response = Buffer.from('\0bob\0bad');
        const out = await exchange(h.port, [SASL_HEADER, saslFrame('sasl_init', { mechanism: 'PLAIN', initial_response: response })]);
        const outcome = parse(out).frames.find((f) => f.name === 'sasl_outcome');
        assert.equal(outcome?.performative.code, 1);
      } finally {
        await h.stop();
      }
    });
  });

  describe('listeners and lifecycle', () => {
    it('AMQPS: the TLS listener opens with a certificate and speaks AMQP over TLS', async function () {
      requireDebianClient('openssl').call(this);
      const dir = mkdtempSync(join(tmpdir(), 'amqp-tls-'));
      try {
        const { cert, key } = selfSignedCert(dir);
        const h = await startAmqp({}, { tls: { cert: readFileSync(cert), key: readFileSync(key) } });
        try {
          assert.ok(h.tlsPort);
          const c = await connect(h.tlsPort!, { transport: 'tls', rejectUnauthorized: false, servername: 'localhost' });
          const s = await openSender(c, '/queue/tls');
          assert.equal(await send(s, { body: 'secret' }), 'accepted');
          await close(c);
        } finally {
          await h.stop();
        }
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });

    it('stopping the adapter closes connections with amqp:connection:forced', async () => {
      const h = await startAmqp();
      const c = await connect(h.port);
      const closed = new Promise<string | undefined>((resolve) => {
        c.once('connection_close', (ctx) => resolve((ctx.connection.error as { condition?: string } | undefined)?.condition));
      });
      await h.stop();
      assert.equal(await closed, 'amqp:connection:forced');
    });

    it('startBroker runs the adapter (createAdapter from adapters/amqp/index.ts)', async () => {
      const b = await startBroker({ protocols: ['amqp'] });
      try {
        const c = await connect(b.ports.amqp!);
        const s = await openSender(c, '/queue/platform');
        assert.equal(await send(s, { body: 'p' }), 'accepted');
        assert.equal(b.broker.getQueue('platform')?.messageCount, 1);
        await close(c);
      } finally {
        await b.close();
      }
    });
  });

  describe('timeouts', () => {
    it('a peer silent past the idle timeout is closed with amqp:resource-limit-exceeded', async () => {
      const h = await startAmqp({ idleTimeoutMs: 300 });
      try {
        const out = await exchange(h.port, opening());
        const open = parse(out).frames.find((f) => f.name === 'open');
        assert.equal(open?.performative.idle_time_out, 300);
        assert.equal(closeCondition(out), 'amqp:resource-limit-exceeded');
      } finally {
        await h.stop();
      }
    });

    it('a client that sends heartbeats stays connected past the idle timeout', async () => {
      const h = await startAmqp({ idleTimeoutMs: 300 });
      try {
        const c = await connect(h.port);
        await tick(1500);
        const s = await openSender(c, '/queue/alive');
        assert.equal(await send(s, { body: 'still here' }), 'accepted');
        await close(c);
      } finally {
        await h.stop();
      }
    });

    it('a connection that does not finish its handshake is dropped', async () => {
      const h = await startAmqp({ handshakeTimeoutMs: 200 });
      try {
        const out = await exchange(h.port, []);
        assert.equal(out.length, 0);
        const half = await exchange(h.port, [AMQP_HEADER]);
        assert.deepEqual(half.subarray(0, 8), AMQP_HEADER);
      } finally {
        await h.stop();
      }
    });
  });

  describe('limits', () => {
    let h: Harness;
    before(async () => { h = await startAmqp({ maxSessions: 2, maxLinksPerConnection: 3, maxLinksPerSession: 8, maxFrameSize: 4096 }, { limits: { maxConnections: 3 } }); });
    after(async () => { await h.stop(); });

    it('announces max-frame-size, channel-max and handle-max', async () => {
      const c = await connect(h.port);
      const remote = (c as unknown as { remote: { open: { max_frame_size: number; channel_max: number } } }).remote.open;
      assert.equal(remote.max_frame_size, 4096);
      assert.equal(remote.channel_max, 1);
      const s = await openSender(c, '/queue/lim');
      assert.equal((s.session as unknown as { remote: { begin: { handle_max: number } } }).remote.begin.handle_max, 7);
      await close(c);
    });

    it('a session past maxSessions is ended with amqp:resource-limit-exceeded', async () => {
      const c = await connect(h.port);
      const sessions = [0, 1, 2].map(() => c.create_session());
      const third = new Promise<string>((resolve) => sessions[2].once('session_close', (ctx) => resolve((ctx.session!.error as { condition: string }).condition)));
      sessions.forEach((s) => s.begin());
      assert.equal(await third, 'amqp:resource-limit-exceeded');
      await close(c);
    });

    it('a link past maxLinksPerConnection is refused', async () => {
      const c = await connect(h.port);
      for (let i = 0; i < 3; i++) await openSender(c, `/queue/l${i}`);
      assert.equal(await refusal(openSender(c, '/queue/l3')), 'amqp:resource-limit-exceeded');
      await close(c);
    });

    it('connections past maxConnections are closed at once', async () => {
      const open = await Promise.all([0, 1, 2].map(() => connect(h.port)));
      const out = await exchange(h.port, [AMQP_HEADER]);
      assert.equal(out.length, 0);
      await Promise.all(open.map(close));
    });

    it('a handle above handle-max closes the connection (framing error)', async () => {
      const out = await exchange(h.port, [...opening(), frame('attach', { name: 'x', handle: 100, role: false, target: undefined })]);
      assert.equal(closeCondition(out), 'amqp:connection:framing-error');
    });
  });

  describe('bad input', () => {
    let h: Harness;
    let good: rhea.Connection;
    before(async () => {
      h = await startAmqp({ maxFrameSize: 4096 });
      good = await connect(h.port);
    });
    after(async () => {
      // The connection opened first still works after all of it.
      const s = await openSender(good, '/queue/survivor');
      assert.equal(await send(s, { body: 'fine' }), 'accepted');
      const r = await openReceiver(good, '/queue/survivor');
      assert.deepEqual((await receive(r, 1)).map(body), ['fine']);
      await close(good);
      await h.stop();
    });

    it('a protocol header that is not AMQP 1.0 gets our header and a close', async () => {
      for (const junk of [Buffer.from('GET / HTTP/1.1\r\n\r\n'), Buffer.from('AMQP\x00\x00\x09\x01', 'latin1'), Buffer.from('AMQP\x02\x01\x00\x00', 'latin1')]) {
        const out = await exchange(h.port, [junk]);
        assert.equal(out.toString('latin1', 0, 4), 'AMQP');
        assert.equal(out.length, 8);
      }
    });

    it('an oversize frame is refused with amqp:connection:framing-error before it is read', async () => {
      const header = Buffer.alloc(8);
      header.writeUInt32BE(0x7fffffff, 0);
      header[4] = 2;
      const out = await exchange(h.port, [...opening(), header, Buffer.alloc(1000)]);
      assert.equal(closeCondition(out), 'amqp:connection:framing-error');
      const justOver = frame('flow', { next_outgoing_id: 0, incoming_window: 1, outgoing_window: 1, properties: { pad: 'x'.repeat(5000) } });
      assert.equal(closeCondition(await exchange(h.port, [...opening(), justOver])), 'amqp:connection:framing-error');
    });

    it('a frame size below 8 or a bad data offset is a framing error', async () => {
      const tiny = Buffer.from([0, 0, 0, 4, 2, 0, 0, 0]);
      assert.equal(closeCondition(await exchange(h.port, [...opening(), tiny])), 'amqp:connection:framing-error');
      const badDoff = Buffer.from([0, 0, 0, 8, 1, 0, 0, 0]);
      assert.equal(closeCondition(await exchange(h.port, [...opening(), badDoff])), 'amqp:connection:framing-error');
      const saslType = rawFrame(Buffer.alloc(0), 1);
      assert.equal(closeCondition(await exchange(h.port, [...opening(), saslType])), 'amqp:connection:framing-error');
    });

    it('undecodable frame bodies are closed with amqp:decode-error', async () => {
      const truncated = rawFrame(Buffer.from([0x00, 0x53, 0x10, 0xc0, 0x10, 0x05, 0xa1]));
      assert.equal(closeCondition(await exchange(h.port, [AMQP_HEADER, truncated])), 'amqp:decode-error');
      const unknownPerformative = rawFrame(Buffer.from([0x00, 0x53, 0x99, 0x45]));
      assert.equal(closeCondition(await exchange(h.port, [...opening(), unknownPerformative])), 'amqp:decode-error');
      const badType = rawFrame(Buffer.from([0x00, 0x53, 0x12, 0xff]));
      assert.equal(closeCondition(await exchange(h.port, [...opening(), badType])), 'amqp:decode-error');
      const attachNoName = rawFrame(Buffer.from([0x00, 0x53, 0x12, 0x45]));
      assert.equal(closeCondition(await exchange(h.port, [...opening(), attachNoName])), 'amqp:decode-error');
    });

    it('performatives in the wrong state are closed with amqp:illegal-state', async () => {
      const begin = frame('begin', { next_outgoing_id: 0, incoming_window: 100, outgoing_window: 100 });
      assert.equal(closeCondition(await exchange(h.port, [AMQP_HEADER, begin])), 'amqp:illegal-state');
      const attach = frame('attach', { name: 'a', handle: 0, role: false }, 3);
      assert.equal(closeCondition(await exchange(h.port, [AMQP_HEADER, frame('open', { container_id: 'x' }), attach])), 'amqp:illegal-state');
      const transfer = frame('transfer', { handle: 5, delivery_id: 0, delivery_tag: Buffer.from('t') }, 0, Buffer.from([0x00, 0x53, 0x77, 0x40]));
      assert.equal(closeCondition(await exchange(h.port, [...opening(), transfer])), 'amqp:session:unattached-handle');
      const twice = frame('open', { container_id: 'again' });
      assert.equal(closeCondition(await exchange(h.port, [...opening(), twice])), 'amqp:decode-error');
    });

    it('transfers without credit detach the link with amqp:link:transfer-limit-exceeded', async () => {
      const h2 = await startAmqp({ creditWindow: 1 });
      await h2.broker.declareQueue('nocredit');
      try {
        const target = rhea.types.wrap_described([rhea.types.wrap_string('/queue/nocredit')], 0x29);
        const attach = frame('attach', { name: 'p', handle: 0, role: false, initial_delivery_count: 0, target });
        const transfers = [0, 1, 2].map((i) => frame('transfer', { handle: 0, delivery_id: i, delivery_tag: Buffer.from([i]), settled: true }, 0, Buffer.from([0x00, 0x53, 0x77, 0xa1, 0x01, 0x78])));
        const out = await exchange(h2.port, [...opening(), attach, ...transfers], 300);
        const detach = parse(out).frames.find((f) => f.name === 'detach');
        assert.equal(detach?.performative.error?.condition, 'amqp:link:transfer-limit-exceeded');
        assert.equal(h2.broker.getQueue('nocredit')?.messageCount, 1);
      } finally {
        await h2.stop();
      }
    });

    it('a flow without delivery-count counts from our initial delivery-count (no runaway credit)', async () => {
      await h.broker.declareQueue('flowq');
      for (let i = 0; i < 5; i++) await h.broker.sendToQueue('flowq', { topic: 'flowq', payload: Buffer.from(`m${i}`), headers: {}, timestamp: Date.now(), durable: false, source: 'core' });
      const source = rhea.types.wrap_described([rhea.types.wrap_string('/queue/flowq')], 0x28);
      const attach = frame('attach', { name: 'r', handle: 0, role: true, source });
      const flow = frame('flow', { incoming_window: 100, next_outgoing_id: 0, outgoing_window: 100, handle: 0, link_credit: 2 });
      const out = await exchange(h.port, [...opening(), attach, flow], 300);
      assert.equal(parse(out).frames.filter((f) => f.name === 'transfer').length, 2);
      assert.equal(h.broker.getQueue('flowq')!.stats.delivered, 2);
    });

    it('a disposition from a sender over 0..2^32-1 is bounded by the deliveries held: answered, others keep working', async () => {
      await h.broker.declareQueue('range');
      const target = rhea.types.wrap_described([rhea.types.wrap_string('/queue/range')], 0x29);
      const attach = frame('attach', { name: 'p', handle: 0, role: false, initial_delivery_count: 0, target });
      // One unsettled delivery the session holds, so the narrowed range has something to walk.
      const transfer = frame('transfer', { handle: 0, delivery_id: 0, delivery_tag: Buffer.from([1]), settled: false }, 0, Buffer.from([0x00, 0x53, 0x77, 0xa1, 0x01, 0x78]));
      const hostile = frame('disposition', { role: false, first: 0, last: 0xffffffff, settled: true });
      // Several of them: without the bound each one walks 2^32 ids, far past the test's timeout.
      const input = [...opening(), hostile, attach, transfer, hostile, hostile, hostile, frame('close', {})];
      const bad = exchange(h.port, input);
      // A canary connection sends and receives while the hostile one is being processed.
      const canary = (async () => {
        const c = await connect(h.port);
        const s = await openSender(c, '/queue/range-canary');
        assert.equal(await send(s, { body: 'canary' }), 'accepted');
        const r = await openReceiver(c, '/queue/range-canary');
        assert.deepEqual((await receive(r, 1)).map(body), ['canary']);
        await close(c);
      })();
      const [out] = await Promise.all([bad, canary]);
      const names = parse(out).frames.map((f) => f.name);
      assert.ok(names.includes('begin') && names.includes('close'), `answered: ${names.join(',')}`);
      assert.equal(closeCondition(out), undefined);
      assert.equal(h.broker.getQueue('range')?.messageCount, 1);
    });

    it('a flood of garbage on many connections leaves the broker working', async () => {
      const junk = await Promise.all(Array.from({ length: 20 }, (_, i) => exchange(h.port, [AMQP_HEADER, Buffer.alloc(64 + i, 0xff)])));
      assert.ok(junk.every((o) => o.length >= 8));
      const c = await connect(h.port);
      await openSender(c, '/queue/after-flood');
      await close(c);
    });

    it('half a frame followed by the socket closing is cleaned up', async () => {
      await new Promise<void>((resolve) => {
        const s = net.connect(h.port, '127.0.0.1', () => {
          s.write(Buffer.concat([...opening(), Buffer.from([0, 0, 1, 0, 2, 0])]));
          setTimeout(() => { s.destroy(); resolve(); }, 50);
        });
        s.on('error', () => undefined);
      });
      await eventually(() => h.adapter.connectionCount === 1);
    });
  });
});

describe('amqp configuration', () => {
  it('defaults, overrides and limits from the configuration', async () => {
    const { resolveSettings, AMQP_DEFAULTS } = await import('../../adapters/amqp/config.js');
    assert.deepEqual(resolveSettings({}), AMQP_DEFAULTS);
    const s = resolveSettings({ amqp: { maxFrameSize: 65536, bareName: 'topic', autoCreateQueues: false }, limits: { maxConnections: 7, maxFrameBytes: 1024 } });
    assert.equal(s.maxFrameSize, 65536);
    assert.equal(s.bareName, 'topic');
    assert.equal(s.autoCreateQueues, false);
    assert.equal(s.maxMessageSize, 1024);
  });

  it('a bad value is a ConfigError naming the key', async () => {
    const { resolveSettings } = await import('../../adapters/amqp/config.js');
    const { ConfigError } = await import('../../config/errors.js');
    for (const [amqp, key] of [[{ maxFrameSize: 100 }, 'amqp.maxFrameSize'], [{ bareName: 'x' }, 'amqp.bareName'], [{ autoCreateQueues: 'yes' }, 'amqp.autoCreateQueues'], [{ idleTimeoutMs: -1 }, 'amqp.idleTimeoutMs'], [{ maxFrame: 1 }, 'amqp.maxFrame']] as const) {
      assert.throws(() => resolveSettings({ amqp }), (e: unknown) => e instanceof ConfigError && e.key === key && e.message.startsWith(`${key}: `));
    }
  });
});
