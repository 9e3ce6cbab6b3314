/** STOMP over raw TCP: CONNECT and versions, heart-beats, receipts, DISCONNECT, auth, and bad input. */
import assert from 'node:assert/strict';
import { MemoryUserStore, createUserRecord } from '../../index.js';
import { delay, RawStomp, startStomp, type StompBroker } from './helpers.js';
import { eventually } from '../support/index.js';

describe('STOMP protocol (TCP)', function () {
  let s: StompBroker;
  before(async () => {
    s = await startStomp({ stomp: { maxFrameSize: 64 * 1024, maxHeaders: 20, maxHeaderLength: 512, maxSubscriptions: 3, heartbeatMinMs: 50, handshakeTimeoutMs: 2000 } as never });
  });
  after(async () => { await s.close(); });

  describe('CONNECT', () => {
    it('negotiates the highest common version from accept-version', async () => {
      for (const [offer, want] of [['1.0,1.1,1.2', '1.2'], ['1.1', '1.1'], ['1.0,1.1', '1.1'], ['1.2,2.0', '1.2']]) {
        const c = await RawStomp.open(s.port);
        c.send('CONNECT', { 'accept-version': offer, host: 'any' });
        const f = await c.expect('CONNECTED');
        assert.equal(f.headers.version, want, offer);
        assert.ok(f.headers.session);
        assert.match(f.headers.server, /^Junction\//);
        await c.disconnect();
      }
    });

    it('a CONNECT without accept-version is STOMP 1.0 (no heart-beat header)', async () => {
      const c = await RawStomp.open(s.port);
      c.send('CONNECT', {});
      const f = await c.expect('CONNECTED');
      assert.equal(f.headers.version, '1.0');
      assert.equal(f.headers['heart-beat'], undefined);
      await c.disconnect();
    });

    it('the STOMP command works as CONNECT', async () => {
      const c = await RawStomp.open(s.port);
      c.send('STOMP', { 'accept-version': '1.2', host: 'h' });
      assert.equal((await c.expect('CONNECTED')).headers.version, '1.2');
      await c.disconnect();
    });

    it('no supported version: ERROR with the supported versions, then close', async () => {
      const c = await RawStomp.open(s.port);
      c.send('CONNECT', { 'accept-version': '2.0,3.1' });
      const e = await c.expect('ERROR');
      assert.equal(e.headers.version, '1.0,1.1,1.2');
      await c.closed;
    });

    it('a second CONNECT is an error', async () => {
      const c = await RawStomp.connect(s.port);
      c.send('CONNECT', { 'accept-version': '1.2' });
      assert.match((await c.expect('ERROR')).headers.message, /already connected/);
      await c.closed;
    });
  });

  describe('heart-beats', () => {
    it('negotiates as the specification says (server offers heartbeatMinMs both ways)', async () => {
      const c = await RawStomp.open(s.port);
      c.send('CONNECT', { 'accept-version': '1.2', 'heart-beat': '0,20' });
      const f = await c.expect('CONNECTED');
      assert.equal(f.headers['heart-beat'], '50,50');
      await eventually(() => c.heartbeats >= 2, { what: 'server heart-beats' });
      await c.disconnect();
    });

    it('no heart-beats asked: none sent, and a silent client is not closed', async () => {
      const c = await RawStomp.open(s.port);
      c.send('CONNECT', { 'accept-version': '1.2', 'heart-beat': '0,0' });
      await c.expect('CONNECTED');
      await delay(300);
      assert.equal(c.heartbeats, 0);
      assert.equal(c.isClosed, false);
      await c.disconnect();
    });

    it('a client that promised heart-beats and goes silent is closed', async () => {
      const c = await RawStomp.open(s.port);
      c.send('CONNECT', { 'accept-version': '1.2', 'heart-beat': '60,0' });
      await c.expect('CONNECTED');
      await c.closed;
    });

    it('a client that keeps sending heart-beats stays connected', async () => {
      const c = await RawStomp.open(s.port);
      c.send('CONNECT', { 'accept-version': '1.2', 'heart-beat': '150,0' });
      await c.expect('CONNECTED');
      const t = setInterval(() => c.write('\n'), 20);
      await delay(500);
      clearInterval(t);
      assert.equal(c.isClosed, false);
      await c.disconnect();
    });
  });

  describe('RECEIPT and DISCONNECT', () => {
    it('answers receipts for every frame type that asks', async () => {
      const c = await RawStomp.connect(s.port);
      await c.sendWithReceipt('SUBSCRIBE', { id: 's', destination: '/queue/receipts', ack: 'client' });
      await c.sendWithReceipt('SEND', { destination: '/queue/receipts' }, 'x');
      const m = await c.expect('MESSAGE');
      await c.sendWithReceipt('BEGIN', { transaction: 't' });
      await c.sendWithReceipt('ACK', { id: m.headers.ack, transaction: 't' });
      await c.sendWithReceipt('COMMIT', { transaction: 't' });
      await c.sendWithReceipt('BEGIN', { transaction: 't2' });
      await c.sendWithReceipt('ABORT', { transaction: 't2' });
      await c.sendWithReceipt('UNSUBSCRIBE', { id: 's' });
      c.send('DISCONNECT', { receipt: 'bye' });
      assert.equal((await c.expect('RECEIPT')).headers['receipt-id'], 'bye');
      await c.closed;
    });

    it('the DISCONNECT receipt follows every earlier SEND being stored', async () => {
      const c = await RawStomp.connect(s.port);
      for (let i = 0; i < 50; i++) c.send('SEND', { destination: '/queue/disc', persistent: 'true' }, `m${i}`);
      c.send('DISCONNECT', { receipt: 'd' });
      await c.expect('RECEIPT');
      await c.closed;
      assert.equal(s.b.broker.getQueue('disc')!.messageCount, 50);
    });
  });

  describe('authentication and authorisation', () => {
    let a: StompBroker;
    before(async () => {
      const users = new MemoryUserStore();
      await users.put('alice', await createUserRecord('secret', { N: 1024, scramIterations: 4096 }));
      a = await startStomp({
        userStore: users,
        auth: { allowAnonymous: false, rules: [{ user: 'alice', allow: ['publish', 'subscribe', 'consume'], address: 'ok.#' }] } as never,
      });
    });
    after(async () => { await a.close(); });

    it('login/passcode go through the auth plugin', async () => {
      const c = await RawStomp.connect(a.port, { 'accept-version': '1.2', login: 'alice', passcode: 'secret' });
      await c.disconnect();
    });

    it('a wrong passcode or no login: ERROR and close', async () => {
      for (const h of [{ login: 'alice', passcode: 'nope' }, {}] as Array<Record<string, string>>) {
        const c = await RawStomp.open(a.port);
        c.send('CONNECT', { 'accept-version': '1.2', ...h });
        assert.match((await c.expect('ERROR')).headers.message, /access refused/);
        await c.closed;
      }
    });

    it('publish and subscribe outside the rules: ERROR (access refused) and close', async () => {
      const c = await RawStomp.connect(a.port, { 'accept-version': '1.2', login: 'alice', passcode: 'secret' });
      await c.sendWithReceipt('SEND', { destination: '/topic/ok.a' }, 'fine');
      await c.sendWithReceipt('SUBSCRIBE', { id: '1', destination: '/topic/ok.*' });
      c.send('SEND', { destination: '/topic/secret.a', receipt: 'r1' }, 'no');
      const e = await c.expect('ERROR');
      assert.match(e.headers.message, /access refused/);
      assert.equal(e.headers['receipt-id'], 'r1');
      await c.closed;
      const d = await RawStomp.connect(a.port, { 'accept-version': '1.2', login: 'alice', passcode: 'secret' });
      d.send('SUBSCRIBE', { id: '1', destination: '/queue/secret' });
      assert.match((await d.expect('ERROR')).headers.message, /access refused/);
      await d.closed;
    });
  });

  describe('bad input: ERROR, close, logged once, other connections unaffected', () => {
    let n = 0;
    async function expectError(lines: (c: RawStomp) => void, pattern: RegExp, connect = true): Promise<void> {
      const bystander = await RawStomp.connect(s.port);
      const queue = `/queue/bystander.${++n}`;
      await bystander.sendWithReceipt('SUBSCRIBE', { id: 'b', destination: queue });
      const warnsBefore = s.logs.filter((r) => r.level === 'warn' || r.level === 'error').length;
      const c = connect ? await RawStomp.connect(s.port) : await RawStomp.open(s.port);
      lines(c);
      const e = await c.expect('ERROR');
      assert.match(e.headers.message, pattern);
      await c.closed;
      await eventually(() => s.logs.filter((r) => r.level === 'warn' || r.level === 'error').length > warnsBefore, { what: 'a log line' });
      await delay(20);
      const added = s.logs.filter((r) => r.level === 'warn' || r.level === 'error').slice(warnsBefore);
      assert.equal(added.length, 1, `logged once: ${JSON.stringify(added)}`);
      assert.equal(added[0].level, 'warn');
      // The bystander still works.
      await bystander.sendWithReceipt('SEND', { destination: queue }, 'still here');
      assert.equal((await bystander.expect('MESSAGE')).body.toString(), 'still here');
      await bystander.disconnect();
    }

    it('a frame before CONNECT', () => expectError((c) => c.send('SEND', { destination: '/queue/a' }, 'x'), /SEND frame before CONNECT/, false));
    it('an unknown command', () => expectError((c) => c.send('FLY', {}), /unknown command "FLY"/));
    for (const name of ['constructor', '__proto__', 'toString', 'hasOwnProperty']) {
      it(`a command named like an object property (${name})`, () => expectError((c) => c.send(name, {}), /unknown command/));
    }
    it('random bytes on many connections never crash the broker', async () => {
      let seed = 12345;
      const rand = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
      const alphabet = ['SEND\n', 'SUBSCRIBE\n', 'CONNECT\naccept-version:1.2\n\n\0', 'ACK\n', 'destination:/queue/f\n', 'id:1\n', 'content-length:3\n',
        'ack:client\n', 'transaction:t\n', '\n', '\r\n', '\0', ':', '\\', '\\c', 'BEGIN\n', 'COMMIT\n', 'x-stream-offset:first\n', '/topic/a.#\n'];
      const clients: RawStomp[] = [];
      for (let i = 0; i < 60; i++) {
        const c = await RawStomp.open(s.port);
        let wire = rand() < 0.7 ? 'CONNECT\naccept-version:1.2\n\n\0' : '';
        for (let k = 0; k < 30; k++) {
          wire += rand() < 0.8 ? alphabet[Math.floor(rand() * alphabet.length)] : String.fromCharCode(Math.floor(rand() * 256));
        }
        c.write(Buffer.from(wire, 'latin1'));
        clients.push(c);
      }
      await delay(200);
      for (const c of clients) c.destroy();
      const ok = await RawStomp.connect(s.port);
      await ok.sendWithReceipt('SEND', { destination: '/queue/after-fuzz' }, 'alive');
      await ok.disconnect();
    });
    it('a lower-case command', () => expectError((c) => c.send('send', { destination: '/queue/a' }), /unknown command/));
    it('a header line without a colon', () => expectError((c) => c.write('SEND\ndestination /queue/a\n\nx\0'), /without a colon/));
    it('an undefined escape', () => expectError((c) => c.write('SEND\ndestination:/queue/a\nk:\\t\n\nx\0'), /undefined escape/));
    it('a bad content-length', () => expectError((c) => c.write('SEND\ndestination:/queue/a\ncontent-length:x\n\nx\0'), /invalid content-length/));
    it('a body longer than content-length', () => expectError((c) => c.write('SEND\ndestination:/queue/a\ncontent-length:1\n\nxyz\0'), /not followed by NUL/));
    it('an oversize frame (content-length)', () => expectError((c) => c.write('SEND\ndestination:/queue/a\ncontent-length:100000\n\n'), /frame larger than 65536/));
    it('an oversize frame (streamed body without NUL)', () => expectError((c) => c.write('SEND\ndestination:/queue/a\n\n' + 'x'.repeat(70000)), /frame larger than 65536/));
    it('an oversize header', () => expectError((c) => c.write(`SEND\ndestination:/queue/a\nbig:${'v'.repeat(600)}\n\n\0`), /header line longer than 512/));
    it('too many headers', () => expectError((c) => c.send('SEND', Object.fromEntries(Array.from({ length: 25 }, (_, i) => [`h${i}`, 'v']))), /more than 20 headers/));
    it('garbage bytes', () => expectError((c) => c.write(Buffer.from([0xff, 0xfe, 0x0a, 0x0a, 0x00])), /unknown command|header|NUL/));
    it('SEND without destination', () => expectError((c) => c.send('SEND', {}, 'x'), /SEND frame without a destination header/));
    it('SUBSCRIBE without id (1.2)', () => expectError((c) => c.send('SUBSCRIBE', { destination: '/queue/a' }), /without an id/));
    it('SUBSCRIBE with a bad ack mode', () => expectError((c) => c.send('SUBSCRIBE', { id: '1', destination: '/queue/a', ack: 'sometimes' }), /invalid ack/));
    it('SUBSCRIBE with a duplicate id', () => expectError((c) => {
      c.send('SUBSCRIBE', { id: '1', destination: '/queue/a' });
      c.send('SUBSCRIBE', { id: '1', destination: '/queue/b' });
    }, /in use/));
    it('more subscriptions than maxSubscriptions', () => expectError((c) => {
      for (let i = 0; i < 4; i++) c.send('SUBSCRIBE', { id: `${i}`, destination: `/queue/many${i}` });
    }, /more than 3 subscriptions/));
    it('an unsupported destination', () => expectError((c) => c.send('SEND', { destination: 'nowhere' }, 'x'), /unsupported destination/));
    it('a wildcard in a SEND topic', () => expectError((c) => c.send('SEND', { destination: '/topic/a.*' }, 'x'), /wildcard/));
    it('a bad topic pattern on SUBSCRIBE', () => expectError((c) => c.send('SUBSCRIBE', { id: '1', destination: '/topic/a.b#' }), /wildcard must be a whole word/));
    it('/amq/queue/ naming no queue', () => expectError((c) => c.send('SEND', { destination: '/amq/queue/nope' }, 'x'), /no queue "nope"/));
    it('ACK without id', () => expectError((c) => c.send('ACK', {}), /ACK frame without an id/));
    it('ACK with an id this connection never gave', () => expectError((c) => c.send('ACK', { id: 'c0-1-1' }), /unknown message id/));
    it('COMMIT of an unknown transaction', () => expectError((c) => c.send('COMMIT', { transaction: 'nope' }), /unknown transaction/));
    it('SEND in an unknown transaction', () => expectError((c) => c.send('SEND', { destination: '/queue/a', transaction: 'nope' }, 'x'), /unknown transaction/));
    it('BEGIN of an open transaction', () => expectError((c) => {
      c.send('BEGIN', { transaction: 't' });
      c.send('BEGIN', { transaction: 't' });
    }, /already open/));
    it('a bad priority header', () => expectError((c) => c.send('SEND', { destination: '/queue/a', priority: 'high' }, 'x'), /invalid priority/));
    it('a bad x-stream-offset', () => expectError((c) => c.send('SUBSCRIBE', { id: '1', destination: '/topic/s', 'x-stream-offset': 'middle' }), /invalid x-stream-offset|no stream/));
    it('the ERROR carries receipt-id when the failing frame asked for a receipt', async () => {
      const c = await RawStomp.connect(s.port);
      c.send('SEND', { receipt: 'r-77' }, 'x');
      const e = await c.expect('ERROR');
      assert.equal(e.headers['receipt-id'], 'r-77');
      assert.equal(e.headers['content-type'], 'text/plain');
      await c.closed;
    });
    it('no CONNECT in time: ERROR and close', async () => {
      const c = await RawStomp.open(s.port);
      assert.match((await c.expect('ERROR', 5000)).headers.message, /no CONNECT/);
      await c.closed;
    });
    it('a client closing mid-frame leaves nothing behind', async () => {
      const before = s.b.broker.getQueue('halfway')?.messageCount ?? 0;
      const c = await RawStomp.connect(s.port);
      c.write('SEND\ndestination:/queue/halfway\ncontent-length:10\n\nabc');
      await delay(20);
      c.destroy();
      await c.closed;
      assert.equal(s.b.broker.getQueue('halfway')?.messageCount ?? 0, before);
    });
  });
});
