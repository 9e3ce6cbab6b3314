/**
 * XMPP on the full platform with users configured: in-band registration is off by default (an IQ
 * gets not-allowed and nothing is written), an explicitly enabled registration creates accounts
 * that cannot administer the broker, SCRAM challenges for known and unknown names look alike
 * (salt length, iterations, stable salt across exchanges and restarts, same failure), and accounts
 * older versions kept in `xmpp-user` metadata fall under the same failed-login limit as the rest.
 */
import assert from 'node:assert/strict';
import { deriveScram as deriveScramKeys } from '../../plugins/auth/index.js';
import { createUserRecord, MemoryUserStore } from '../../plugins/auth/index.js';
import { removeTempDir, startBroker, tempDir, type RunningBroker, type StartOptions } from '../support/index.js';
import { HEADER, RawClient } from './helpers.js';

const REGISTER_FEATURE = /<register xmlns=['"]http:\/\/jabber.org\/features\/iq-register['"]/;

async function users(): Promise<MemoryUserStore> {
  return new MemoryUserStore({ alice: await createUserRecord('alice-pw', { N: 1024, scramIterations: 4096 }) });
}

function start(options: StartOptions): Promise<RunningBroker> {
  return startBroker({ protocols: ['xmpp'], ...options });
}

async function features(port: number): Promise<{ c: RawClient; text: string }> {
  const c = await RawClient.open(port);
  c.send(HEADER);
  const [text] = await c.waitFor(/<stream:features[\s\S]*?<\/stream:features>/);
  return { c, text };
}

async function register(port: number, user: string, password: string): Promise<string> {
  const { c } = await features(port);
  try {
    c.send(`<iq type='set' id='reg1'><query xmlns='jabber:iq:register'><username>${user}</username><password>${password}</password></query></iq>`);
    const [reply] = await c.waitFor(/<iq[^>]*id=['"]reg1['"][\s\S]*?(<\/iq>|\/>)/);
    return reply;
  } finally {
    c.destroy();
  }
}

/** One SCRAM-SHA-256 exchange with a made-up proof: the challenge's salt and iterations, and the outcome. */
async function scramAttempt(port: number, user: string): Promise<{ salt: Buffer; iterations: number; outcome: string }> {
  const { c } = await features(port);
  try {
    const first = Buffer.from(`n,,n=${user},r=clientnonce123`).toString('base64');
    c.send(`<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='SCRAM-SHA-256'>${first}</auth>`);
    const [, challenge] = await c.waitFor(/<challenge[^>]*>([^<]*)<\/challenge>/);
    const a = new Map(Buffer.from(challenge, 'base64').toString('utf8').split(',').map((p) => [p[0], p.slice(2)] as [string, string]));
    const final = `c=biws,r=${a.get('r')},p=${Buffer.alloc(32, 7).toString('base64')}`;
    c.send(`<response xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>${Buffer.from(final).toString('base64')}</response>`);
    const [outcome] = await c.waitFor(/<(failure|success)[\s\S]*?<\/(failure|success)>/);
    return { salt: Buffer.from(a.get('s')!, 'base64'), iterations: Number(a.get('i')), outcome };
  } finally {
    c.destroy();
  }
}

/** One SASL PLAIN attempt: 'success' or the failure condition. */
async function plainAttempt(port: number, user: string, password: string): Promise<string> {
  const { c } = await features(port);
  try {
    c.send(`<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>${Buffer.from(`\0${user}\0${password}`).toString('base64')}</auth>`);
    const [, kind, cond] = await c.waitFor(/<(success|failure)[^>]*>(?:<([a-z-]+))?/);
    return kind === 'success' ? 'success' : cond;
  } finally {
    c.destroy();
  }
}

/** A full SCRAM-SHA-256 exchange with the right password: 'success' or the failure condition. */
async function scramLogin(port: number, user: string, password: string): Promise<string> {
  const { createHash, createHmac, pbkdf2Sync } = await import('node:crypto');
  const { c } = await features(port);
  try {
    const first = `n=${user},r=clientnonce456`;
    c.send(`<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='SCRAM-SHA-256'>${Buffer.from(`n,,${first}`).toString('base64')}</auth>`);
    const m = await c.waitFor(/<challenge[^>]*>([^<]*)<\/challenge>|<failure[^>]*><([a-z-]+)/);
    if (!m[1]) return m[2];
    const serverFirst = Buffer.from(m[1], 'base64').toString('utf8');
    const a = new Map(serverFirst.split(',').map((p) => [p[0], p.slice(2)] as [string, string]));
    const salted = pbkdf2Sync(password, Buffer.from(a.get('s')!, 'base64'), Number(a.get('i')), 32, 'sha256');
    const clientKey = createHmac('sha256', salted).update('Client Key').digest();
    const finalNoProof = `c=biws,r=${a.get('r')}`;
    const sig = createHmac('sha256', createHash('sha256').update(clientKey).digest()).update(`${first},${serverFirst},${finalNoProof}`).digest();
    for (let i = 0; i < 32; i++) clientKey[i] ^= sig[i];
    c.send(`<response xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>${Buffer.from(`${finalNoProof},p=${clientKey.toString('base64')}`).toString('base64')}</response>`);
    const [, kind, cond] = await c.waitFor(/<(success|failure)[^>]*>(?:<([a-z-]+))?/);
    return kind === 'success' ? 'success' : cond;
  } finally {
    c.destroy();
  }
}

async function adminStatus(b: RunningBroker, user: string, password: string): Promise<number> {
  const r = await fetch(`http://127.0.0.1:${b.ports.http}/api/overview`, {
    headers: { authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}` },
  });
  await r.arrayBuffer();
  return r.status;
}

describe('xmpp: registration and SASL with users configured', function () {
  this.timeout(60000);

  it('offers registration in dev mode (anonymous access, no users configured)', async () => {
    const b = await start({});
    try {
      const { c, text } = await features(b.ports.xmpp!);
      c.destroy();
      assert.match(text, REGISTER_FEATURE);
    } finally {
      await b.close();
    }
  });

  it('refuses in-band registration by default when users are configured (not-allowed, nothing written)', async () => {
    const store = await users();
    for (const auth of [{}, { allowAnonymous: true }]) {
      const b = await start({ userStore: store, auth });
      try {
        const { c, text } = await features(b.ports.xmpp!);
        c.destroy();
        assert.doesNotMatch(text, REGISTER_FEATURE);
        const reply = await register(b.ports.xmpp!, 'eve', 'eve-pw');
        assert.match(reply, /type=['"]error['"]/);
        assert.match(reply, /<not-allowed/);
        assert.equal((await store.load()).has('eve'), false);
        const eve = await b.auth.authenticate('mqtt', 'eve', 'eve-pw');
        assert.ok(eve === null || eve.anonymous, 'no account eve');
      } finally {
        await b.close();
      }
    }
  });

  it('an explicitly enabled registration creates an account that logs in but may not administer the broker', async () => {
    const store = await users();
    const b = await start({ userStore: store, xmpp: { registration: true } } as StartOptions);
    try {
      assert.match(await register(b.ports.xmpp!, 'eve', 'eve-pw'), /type=['"]result['"]/);
      assert.equal((await store.load()).get('eve')?.registered, true, 'marked as registered in the users store');
      assert.deepEqual(await b.auth.authenticate('mqtt', 'eve', 'eve-pw'), { user: 'eve', anonymous: false });
      assert.equal(await adminStatus(b, 'eve', 'eve-pw'), 403, 'registered account: no admin API');
      assert.equal(await adminStatus(b, 'alice', 'alice-pw'), 403, 'ordinary user without an admin rule or flag: no admin API');
    } finally {
      await b.close();
    }
  });

  it('answers SCRAM for a known and an unknown name alike; the fake salt survives a restart', async () => {
    const dir = tempDir();
    const store = await users();
    try {
      let b = await start({ userStore: store, dataDir: dir });
      let salt: Buffer;
      try {
        const known = await scramAttempt(b.ports.xmpp!, 'alice');
        const unknown = await scramAttempt(b.ports.xmpp!, 'mallory');
        assert.equal(unknown.salt.length, known.salt.length, 'salt length');
        assert.equal(unknown.iterations, known.iterations, 'iterations');
        assert.equal(unknown.outcome, known.outcome, 'same failure');
        assert.match(unknown.outcome, /<not-authorized/);
        salt = unknown.salt;
        assert.deepEqual((await scramAttempt(b.ports.xmpp!, 'mallory')).salt, salt, 'stable across exchanges');
        assert.notDeepEqual((await scramAttempt(b.ports.xmpp!, 'trudy')).salt, salt, 'differs per name');
      } finally {
        await b.close();
      }
      b = await start({ userStore: store, dataDir: dir });
      try {
        assert.deepEqual((await scramAttempt(b.ports.xmpp!, 'mallory')).salt, salt, 'stable across a restart');
      } finally {
        await b.close();
      }
    } finally {
      removeTempDir(dir);
    }
  });
  describe('accounts kept in xmpp-user metadata by older versions', () => {
    let b: RunningBroker;
    beforeEach(async () => {
      b = await start({ userStore: await users(), auth: { maxFailuresPerMinute: 3 } } as StartOptions);
      const scram: Record<string, { i: number; s: string; k: string; v: string }> = {};
      for (const m of ['SCRAM-SHA-1', 'SCRAM-SHA-256'] as const) {
        const k = await deriveScramKeys('erin-pw', m);
        scram[m] = { i: k.iterations, s: k.salt.toString('base64'), k: k.storedKey.toString('base64'), v: k.serverKey.toString('base64') };
      }
      await b.broker.metadata.putJson('xmpp-user', 'erin', { scram });
    });
    afterEach(async () => { await b?.close(); });

    it('log in with PLAIN and SCRAM; wrong passwords count: past auth.maxFailuresPerMinute the address is refused, right password or not', async () => {
      const port = b.ports.xmpp!;
      assert.equal(await plainAttempt(port, 'erin', 'erin-pw'), 'success');
      assert.equal(await scramLogin(port, 'erin', 'erin-pw'), 'success');
      for (let i = 0; i < 3; i++) assert.equal(await plainAttempt(port, 'erin', 'wrong'), 'not-authorized');
      assert.equal(await plainAttempt(port, 'erin', 'erin-pw'), 'not-authorized', 'PLAIN refused for the rest of the minute');
      assert.equal(await scramLogin(port, 'erin', 'erin-pw'), 'not-authorized', 'SCRAM refused too');
      assert.equal(await plainAttempt(port, 'alice', 'alice-pw'), 'not-authorized', 'one limit per address, for every account');
      // The plugin's own accounts and the old ones share it: the same address is refused everywhere.
      assert.equal(await b.auth.authenticate('mqtt', 'alice', 'alice-pw', '127.0.0.1'), null);
    });

    it('failures on other accounts refuse the address for them as well', async () => {
      const port = b.ports.xmpp!;
      for (let i = 0; i < 3; i++) assert.equal(await plainAttempt(port, 'alice', 'wrong'), 'not-authorized');
      assert.equal(await plainAttempt(port, 'erin', 'erin-pw'), 'not-authorized');
      assert.equal(await scramLogin(port, 'erin', 'erin-pw'), 'not-authorized');
    });

    it('failed SCRAM proofs count as failures too', async () => {
      const port = b.ports.xmpp!;
      for (let i = 0; i < 3; i++) assert.equal(await scramLogin(port, 'erin', 'wrong'), 'not-authorized');
      assert.equal(await plainAttempt(port, 'erin', 'erin-pw'), 'not-authorized');
    });
  });
});
