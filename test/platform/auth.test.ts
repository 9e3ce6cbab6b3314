import assert from 'node:assert/strict';
import { createHash, createHmac } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { AuthConfig, AuthRule } from '../../config/schema.js';
import { ConfigError } from '../../config/load.js';
import {
  covers,
  createAuthPlugin,
  createUserRecord,
  deriveScram,
  evaluateRules,
  FileUserStore,
  hashPassword,
  MemoryUserStore,
  parseScram,
  UserExistsError,
  InvalidUserNameError,
  verifyPassword,
  type ScramMechanism,
} from '../../plugins/auth/index.js';
import { removeTempDir, startBroker, tempDir } from '../support/index.js';

const FAST = { N: 1024, scramIterations: 4096 };
const cfg = (over: Partial<AuthConfig> = {}): AuthConfig => ({ usersFile: null, allowAnonymous: true, rules: [], ...over });
const alice = { user: 'alice', anonymous: false };
const anon = { user: 'anonymous', anonymous: true };

/** Checks SCRAM credentials against a published exchange (RFC 5802 / RFC 7677 examples). */
function checkExchange(mech: ScramMechanism, c: { storedKey: Buffer; serverKey: Buffer }, authMessage: string, proof: string, verifier: string) {
  const h = mech === 'SCRAM-SHA-1' ? 'sha1' : 'sha256';
  const clientSignature = createHmac(h, c.storedKey).update(authMessage).digest();
  const clientKey = Buffer.from(proof, 'base64').map((b, i) => b ^ clientSignature[i]);
  assert.deepEqual(createHash(h).update(clientKey).digest(), c.storedKey, 'client proof verifies against storedKey');
  assert.equal(createHmac(h, c.serverKey).update(authMessage).digest('base64'), verifier, 'server signature');
}

describe('platform/auth: passwords and SCRAM', () => {
  it('hashes with scrypt as scrypt$N$r$p$salt$hash and verifies', async () => {
    const h = await hashPassword('secret', FAST);
    assert.match(h, /^scrypt\$1024\$8\$1\$[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+$/);
    assert.notEqual(h, await hashPassword('secret', FAST), 'salted');
    assert.equal(await verifyPassword('secret', h), true);
    assert.equal(await verifyPassword(Buffer.from('secret'), h), true);
    assert.equal(await verifyPassword('Secret', h), false);
    assert.equal(await verifyPassword('secret', 'plain:secret'), false);
  });

  it('derives SCRAM-SHA-1 keys that pass the RFC 5802 example exchange', async () => {
    const c = await deriveScram('pencil', 'SCRAM-SHA-1', 4096, Buffer.from('QSXCR+Q6sek8bf92', 'base64'));
    const nonce = 'fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j';
    const authMessage = `n=user,r=fyko+d2lbbFgONRv9qkxdawL,r=${nonce},s=QSXCR+Q6sek8bf92,i=4096,c=biws,r=${nonce}`;
    checkExchange('SCRAM-SHA-1', c, authMessage, 'v0X8v3Bz2T0CJGbJQyF0X+HI4Ts=', 'rmF9pqV8S7suAoZWja4dJRkFsKQ=');
  });

  it('derives SCRAM-SHA-256 keys that pass the RFC 7677 example exchange', async () => {
    const c = await deriveScram('pencil', 'SCRAM-SHA-256', 4096, Buffer.from('W22ZaJ0SNY7soEsUEjb6gQ==', 'base64'));
    const nonce = 'rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0';
    const authMessage = `n=user,r=rOprNGfwEbeRWgbNEkqO,r=${nonce},s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096,c=biws,r=${nonce}`;
    checkExchange('SCRAM-SHA-256', c, authMessage, 'dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=', '6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=');
  });

  it('creates a user entry with keys for SCRAM-SHA-1, -256 and -512', async () => {
    const rec = await createUserRecord('pw', FAST);
    assert.equal(await verifyPassword('pw', rec.password), true);
    for (const [m, len] of [['SCRAM-SHA-1', 20], ['SCRAM-SHA-256', 32], ['SCRAM-SHA-512', 64]] as const) {
      const c = parseScram(rec.scram![m]!, m);
      assert.ok(c, m);
      assert.equal(c.iterations, 4096);
      assert.equal(c.storedKey.length, len);
      const again = await deriveScram('pw', m, c.iterations, c.salt);
      assert.deepEqual(again.storedKey, c.storedKey);
    }
  });
});

describe('platform/auth: authentication', () => {
  const users = async () => new MemoryUserStore({ alice: await createUserRecord('wonder', FAST) });

  it('gives the anonymous principal when anonymous access is allowed (the default)', async () => {
    const auth = await createAuthPlugin({ config: cfg() });
    assert.equal(auth.anonymousAllowed, true);
    assert.deepEqual(await auth.authenticate('mqtt', undefined, undefined), anon);
    assert.deepEqual(await auth.authenticate('stomp', '', ''), anon);
    // No such user and anonymous allowed: still anonymous, carrying the name it gave.
    assert.deepEqual(await auth.authenticate('mqtt', 'device7', 'x'), { user: 'device7', anonymous: true });
  });

  it('checks passwords of configured users and refuses wrong ones', async () => {
    const auth = await createAuthPlugin({ config: cfg({ allowAnonymous: false }), users: await users() });
    assert.deepEqual(await auth.authenticate('amqp', 'alice', 'wonder'), alice);
    assert.deepEqual(await auth.authenticate('amqp', 'alice', Buffer.from('wonder')), alice, 'cached check');
    assert.equal(await auth.authenticate('amqp', 'alice', 'wrong'), null);
    assert.equal(await auth.authenticate('amqp', 'alice', undefined), null);
    assert.equal(await auth.authenticate('amqp', 'mallory', 'wonder'), null);
    assert.equal(await auth.authenticate('amqp', undefined, undefined), null);
  });

  it('refuses a known user with a wrong password even when anonymous access is allowed', async () => {
    const auth = await createAuthPlugin({ config: cfg({ allowAnonymous: true }), users: await users() });
    assert.equal(await auth.authenticate('kafka', 'alice', 'nope'), null);
  });

  it('serves SCRAM credentials of known users, and stable look-alike fakes for unknown names', async () => {
    const auth = await createAuthPlugin({ config: cfg(), users: await users() });
    const c = await auth.scramCredentials('alice', 'SCRAM-SHA-256');
    assert.ok(c);
    assert.deepEqual((await deriveScram('wonder', 'SCRAM-SHA-256', c.iterations, c.salt)).serverKey, c.serverKey);
    const fake = await auth.scramCredentials('bob', 'SCRAM-SHA-256');
    assert.ok(fake);
    assert.equal(fake.salt.length, c.salt.length);
    assert.equal(fake.iterations, c.iterations);
    assert.deepEqual((await auth.scramCredentials('bob', 'SCRAM-SHA-256'))!.salt, fake.salt, 'stable');
  });

  it('registers users at run time through the user store, once per name', async () => {
    const store = new MemoryUserStore();
    const auth = await createAuthPlugin({ config: cfg(), users: store, hashOptions: FAST });
    assert.ok(auth.register);
    await auth.register('bob', 'builder');
    assert.deepEqual(await auth.authenticate('xmpp', 'bob', 'builder'), { user: 'bob', anonymous: false });
    await assert.rejects(auth.register('bob', 'again'), UserExistsError);
    await assert.rejects(auth.register('anonymous', 'x'), InvalidUserNameError);
    await assert.rejects(auth.register('', 'x'), InvalidUserNameError);
    const fresh = await createAuthPlugin({ config: cfg(), users: store });
    assert.deepEqual(await fresh.authenticate('xmpp', 'bob', 'builder'), { user: 'bob', anonymous: false });
  });

  it('keeps run-time registrations in the broker metadata when no users file is configured', async () => {
    const b = await startBroker({ protocols: [] });
    try {
      await b.auth.register!('carol', 'pw1');
      assert.ok(b.broker.metadata.entries('auth.user').has('carol'));
      assert.deepEqual(await b.auth.authenticate('xmpp', 'carol', 'pw1'), { user: 'carol', anonymous: false });
    } finally {
      await b.close();
    }
  });
});

describe('platform/auth: users file', () => {
  let dir: string;
  before(() => (dir = tempDir()));
  after(() => removeTempDir(dir));

  it('writes entries atomically and reads them back', async () => {
    const path = join(dir, 'users.yaml');
    const store = new FileUserStore(path, true);
    await store.put('alice', await createUserRecord('wonder', FAST));
    await store.put('bob', await createUserRecord('builder', FAST));
    const text = readFileSync(path, 'utf8');
    assert.match(text, /alice:\n\s+password: scrypt\$/);
    assert.ok(!text.includes('wonder'), 'no password in the file');
    const auth = await createAuthPlugin({ config: cfg({ usersFile: path, allowAnonymous: false }) });
    assert.deepEqual(await auth.authenticate('mqtt', 'bob', 'builder'), { user: 'bob', anonymous: false });
    await store.delete('bob');
    await auth.reload();
    assert.equal(await auth.authenticate('mqtt', 'bob', 'builder'), null);
  });

  it('refuses a missing or malformed users file with a ConfigError', async () => {
    await assert.rejects(createAuthPlugin({ config: cfg({ usersFile: join(dir, 'none.yaml') }) }), (e: unknown) => e instanceof ConfigError && /cannot read/.test(e.message));
    const bad = join(dir, 'bad.yaml');
    writeFileSync(bad, 'users:\n  eve:\n    password: hunter2\n');
    await assert.rejects(createAuthPlugin({ config: cfg({ usersFile: bad }) }), (e: unknown) => e instanceof ConfigError && /user "eve" needs password: scrypt/.test(e.message));
  });

  it('a broker with a users file refuses anonymous clients', async () => {
    const path = join(dir, 'broker-users.yaml');
    await new FileUserStore(path, true).put('alice', await createUserRecord('wonder', FAST));
    const b = await startBroker({ protocols: [], auth: { usersFile: path } });
    try {
      assert.equal(b.auth.anonymousAllowed, false);
      assert.equal(await b.auth.authenticate('mqtt', undefined, undefined), null);
      assert.deepEqual(await b.auth.authenticate('mqtt', 'alice', 'wonder'), alice);
    } finally {
      await b.close();
    }
  });
});

describe('platform/auth: rules', () => {
  it('pattern coverage over dot names', () => {
    const table: [string, string, boolean][] = [
      ['sensors.#', 'sensors.room1.temp', true],
      ['sensors.#', 'sensors', true],
      ['sensors.#', 'sensors.*.temp', true],
      ['sensors.#', 'sensors.#', true],
      ['sensors.*', 'sensors.a', true],
      ['sensors.*', 'sensors.a.b', false],
      ['sensors.*', 'sensors.#', false],
      ['sensors.*.temp', 'sensors.*.temp', true],
      ['sensors.a.temp', 'sensors.*.temp', false],
      ['#', 'anything.at.all', true],
      ['#', '$sys.broker', false],
      ['*.broker', '$sys.broker', false],
      ['$sys.#', '$sys.broker', true],
      ['jobs', 'jobs', true],
      ['jobs', 'jobs.dlq', false],
    ];
    for (const [rule, address, expected] of table) assert.equal(covers(rule, address), expected, `${rule} covers ${address}`);
  });

  it('no rules: everything is allowed', () => {
    assert.equal(evaluateRules([], anon, 'admin', 'x'), true);
  });

  it('first matching rule that lists the action decides; none means refused', () => {
    const rules: AuthRule[] = [
      { user: 'alice', deny: ['publish'], address: 'sensors.secret.#' },
      { user: 'alice', allow: ['publish', 'subscribe'], address: 'sensors.#' },
      { user: '*', allow: ['subscribe'], address: 'public.#' },
      { user: 'anonymous', allow: ['publish'], address: 'inbox' },
      { user: ['bob', 'carol'], allow: ['consume'], address: ['jobs', 'jobs.dlq'] },
    ];
    assert.equal(evaluateRules(rules, alice, 'publish', 'sensors.room1.temp'), true);
    assert.equal(evaluateRules(rules, alice, 'subscribe', 'sensors.#'), true);
    assert.equal(evaluateRules(rules, alice, 'subscribe', '#'), false, 'wider than the rule');
    assert.equal(evaluateRules(rules, alice, 'publish', 'sensors.secret.k'), false, 'deny first');
    assert.equal(evaluateRules(rules, alice, 'consume', 'sensors.a'), false, 'action not listed');
    assert.equal(evaluateRules(rules, alice, 'publish', 'other.x'), false);
    assert.equal(evaluateRules(rules, anon, 'subscribe', 'public.news'), true);
    assert.equal(evaluateRules(rules, anon, 'publish', 'inbox'), true);
    assert.equal(evaluateRules(rules, anon, 'publish', 'sensors.a'), false);
    assert.equal(evaluateRules(rules, { user: 'carol', anonymous: false }, 'consume', 'jobs.dlq'), true);
    // An anonymous client that merely claims a name gets nothing granted to that name.
    assert.equal(evaluateRules(rules, { user: 'alice', anonymous: true }, 'publish', 'sensors.a'), false);
  });

  it('{user} in an address is the principal name, and a name cannot widen the pattern', () => {
    const rules: AuthRule[] = [{ user: '*', allow: ['publish', 'subscribe'], address: 'devices.{user}.#' }];
    assert.equal(evaluateRules(rules, alice, 'publish', 'devices.alice.temp'), true);
    assert.equal(evaluateRules(rules, alice, 'publish', 'devices.bob.temp'), false);
    assert.equal(evaluateRules(rules, { user: '#', anonymous: false }, 'publish', 'devices.bob.temp'), false);
    assert.equal(evaluateRules(rules, { user: 'a.b', anonymous: false }, 'publish', 'devices.a.b'), false);
  });

  it('the plugin applies the configured rules', async () => {
    const auth = await createAuthPlugin({ config: cfg({ rules: [{ user: 'alice', allow: ['publish'], address: 'sensors.#' }] }) });
    assert.equal(auth.authorise(alice, 'publish', 'sensors.x'), true);
    assert.equal(auth.authorise(alice, 'subscribe', 'sensors.x'), false);
  });
});
