/**
 * XMPP on the full platform with users configured: in-band registration is off by default (an IQ
 * gets not-allowed and nothing is written), an explicitly enabled registration creates accounts
 * that cannot administer the broker, and SCRAM challenges for known and unknown names look alike
 * (salt length, iterations, stable salt across exchanges and restarts, same failure).
 */
import assert from 'node:assert/strict';
import { createUserRecord, MemoryUserStore } from '../../plugins/auth/index.js';
import { removeTempDir, startTestBroker, tempDir, type RunningBroker, type StartOptions } from '../support/index.js';
import { HEADER, RawClient } from './helpers.js';

const REGISTER_FEATURE = /<register xmlns=['"]http:\/\/jabber.org\/features\/iq-register['"]/;

async function users(): Promise<MemoryUserStore> {
  return new MemoryUserStore({ alice: await createUserRecord('alice-pw', { N: 1024, scramIterations: 4096 }) });
}

function start(options: StartOptions): Promise<RunningBroker> {
  return startTestBroker({ protocols: ['xmpp'], ...options });
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
});
