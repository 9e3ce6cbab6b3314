/**
 * Who may administer the broker, registered accounts, and failed logins limited per address:
 * the auth plugin's authorise() and authenticate(), `junction passwd --admin`, and the admin API
 * of a broker with a users file.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { AuthConfig, AuthRule } from '../../config/schema.js';
import type { Logger } from '../../core/adapter.js';
import { createAuthPlugin, createUserRecord, FileUserStore, LoginFailures, MemoryUserStore, type UserRecord } from '../../plugins/auth/index.js';
import { removeTempDir, startBroker, tempDir, type RunningBroker } from '../support/index.js';

const FAST = { N: 1024, scramIterations: 4096 };
const BIN = join(fileURLToPath(new URL('../../../', import.meta.url)), 'bin', 'junction.js');
const cfg = (over: Partial<AuthConfig> = {}): AuthConfig => ({ usersFile: null, allowAnonymous: true, rules: [], ...over });
const anon = { user: 'anonymous', anonymous: true };
const p = (user: string) => ({ user, anonymous: false });

async function store(): Promise<MemoryUserStore> {
  const rec = await createUserRecord('pw', FAST);
  const users: Record<string, UserRecord> = { root: { ...rec, admin: true }, alice: rec, eve: { ...rec, registered: true } };
  return new MemoryUserStore(users);
}

interface Logged { level: string; obj: Record<string, unknown>; msg?: string }
function captureLogger(lines: Logged[]): Logger {
  const at = (level: string) => (obj: unknown, msg?: string) => void lines.push({ level, obj: obj as Record<string, unknown>, msg });
  const l: Logger = { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error'), child: () => l };
  return l;
}

describe('platform/auth: who may administer', () => {
  it('dev mode (no users configured, no rules): anonymous administers, as before', async () => {
    const auth = await createAuthPlugin({ config: cfg() });
    assert.equal(auth.usersConfigured, false);
    assert.equal(auth.authorise(anon, 'admin', '#'), true);
    assert.equal(auth.authorise(anon, 'publish', 'a.b'), true);
  });

  it('users configured, no rules: publish/subscribe/consume stay allowed; admin only with the admin flag', async () => {
    const auth = await createAuthPlugin({ config: cfg(), users: await store() });
    assert.equal(auth.usersConfigured, true);
    for (const who of [p('alice'), p('eve'), anon]) {
      for (const action of ['publish', 'subscribe', 'consume'] as const) assert.equal(auth.authorise(who, action, 'a.b'), true, `${who.user} ${action}`);
      assert.equal(auth.authorise(who, 'admin', '#'), false, `${who.user} admin`);
    }
    assert.equal(auth.authorise(p('root'), 'admin', '#'), true);
  });

  it('with rules: a `*` admin rule does not reach registered accounts; a rule naming them does', async () => {
    const rules: AuthRule[] = [{ user: '*', allow: ['admin', 'publish'], address: '#' }];
    const auth = await createAuthPlugin({ config: cfg({ rules }), users: await store() });
    assert.equal(auth.authorise(p('alice'), 'admin', '#'), true);
    assert.equal(auth.authorise(p('eve'), 'admin', '#'), false);
    assert.equal(auth.authorise(p('eve'), 'publish', 'x'), true, 'other actions follow the rules');
    assert.equal(auth.authorise(p('stranger'), 'admin', '#'), false, 'a principal the plugin does not know');
    const named = await createAuthPlugin({ config: cfg({ rules: [{ user: 'eve', allow: ['admin'], address: '#' }] }), users: await store() });
    assert.equal(named.authorise(p('eve'), 'admin', '#'), true);
    assert.equal(named.authorise(p('root'), 'admin', '#'), true, 'the admin flag needs no rule');
  });

  it('marks accounts created by register() as registered', async () => {
    const users = new MemoryUserStore();
    const auth = await createAuthPlugin({ config: cfg(), users, hashOptions: FAST });
    await auth.register!('dave', 'pw');
    assert.equal((await users.load()).get('dave')?.registered, true);
    assert.equal(auth.authorise(p('dave'), 'admin', '#'), false);
  });
});

describe('platform/auth: failed logins per address', () => {
  it('LoginFailures refuses an address after its allowance until the minute is over', () => {
    let now = 1_000_000;
    const f = new LoginFailures(3, () => now);
    assert.equal(f.record('10.0.0.1'), false);
    assert.equal(f.record('10.0.0.1'), false);
    assert.equal(f.blocked('10.0.0.1'), false);
    assert.equal(f.record('10.0.0.1'), true, 'the third failure uses up the allowance');
    assert.equal(f.blocked('10.0.0.1'), true);
    assert.equal(f.blocked('10.0.0.2'), false, 'per address');
    assert.equal(f.blocked(undefined), false, 'no address, no limit');
    now += 59_000;
    assert.equal(f.blocked('10.0.0.1'), true);
    assert.equal(f.retryAfterMs('10.0.0.1'), 1_000);
    now += 1_000;
    assert.equal(f.blocked('10.0.0.1'), false);
    assert.equal(new LoginFailures(0).record('x'), false, '0 = no limit');
  });

  it('authenticate() logs each failure with user and address (never the password) and then refuses the address', async () => {
    const lines: Logged[] = [];
    const auth = await createAuthPlugin({ config: cfg({ allowAnonymous: false, maxFailuresPerMinute: 3 }), users: await store(), log: captureLogger(lines) });
    for (let i = 0; i < 3; i++) assert.equal(await auth.authenticate('mqtt', i === 0 ? 'nobody' : 'alice', 'wrong-secret', '192.0.2.7'), null);
    assert.equal(await auth.authenticate('mqtt', 'alice', 'pw', '192.0.2.7'), null, 'even the right password, for the rest of the minute');
    assert.deepEqual(await auth.authenticate('mqtt', 'alice', 'pw', '192.0.2.8'), p('alice'), 'another address is not affected');
    assert.equal(await auth.scramCredentials('alice', 'SCRAM-SHA-256', '192.0.2.7'), null, 'SCRAM is refused too');
    const refused = lines.filter((l) => l.msg === 'authentication refused');
    assert.equal(refused.length, 3);
    assert.deepEqual(refused.map((l) => [l.level, l.obj.user, l.obj.remote, l.obj.protocol]), [
      ['info', 'nobody', '192.0.2.7', 'mqtt'], ['info', 'alice', '192.0.2.7', 'mqtt'], ['info', 'alice', '192.0.2.7', 'mqtt'],
    ]);
    assert.equal(lines.filter((l) => l.level === 'warn' && /too many failed logins/.test(l.msg ?? '')).length, 1);
    assert.ok(!JSON.stringify(lines).includes('wrong-secret'), 'no password in the log');
  });

  it('counts SCRAM proofs that fail, for known and unknown names alike', async () => {
    const auth = await createAuthPlugin({ config: cfg({ maxFailuresPerMinute: 2 }), users: await store() });
    for (const user of ['alice', 'nobody']) {
      const creds = await auth.scramCredentials(user, 'SCRAM-SHA-256', '198.51.100.1');
      assert.ok(creds);
      assert.equal(await auth.verifyScram('kafka', user, 'SCRAM-SHA-256', creds, 'n=x,r=1,r=12,s=AA==,i=4096,c=biws,r=12', Buffer.alloc(32), '198.51.100.1'), null);
    }
    assert.equal(await auth.scramCredentials('alice', 'SCRAM-SHA-256', '198.51.100.1'), null);
  });
});

describe('platform/auth: admin flag end to end', function () {
  this.timeout(60000);
  let dir: string;
  let b: RunningBroker;
  before(async () => {
    dir = tempDir();
    const file = join(dir, 'users.yaml');
    for (const [user, flags] of [['root', ['--admin']], ['alice', []]] as const) {
      const r = spawnSync(process.execPath, [BIN, 'passwd', file, user, ...flags], { input: `${user}-pw\n`, encoding: 'utf8', timeout: 60000 });
      assert.equal(r.status, 0, r.stderr);
    }
    // Changing root's password without a flag keeps it an admin.
    assert.equal(spawnSync(process.execPath, [BIN, 'passwd', file, 'root'], { input: 'root-pw\n', encoding: 'utf8', timeout: 60000 }).status, 0);
    assert.equal((await new FileUserStore(file).load()).get('root')?.admin, true);
    b = await startBroker({ protocols: [], auth: { usersFile: file } });
  });
  after(async () => {
    await b.close();
    removeTempDir(dir);
  });

  const status = async (auth?: string) => {
    const r = await fetch(`http://127.0.0.1:${b.ports.http}/api/overview`, auth ? { headers: { authorization: `Basic ${Buffer.from(auth).toString('base64')}` } } : {});
    await r.arrayBuffer();
    return r.status;
  };

  it('lets a user flagged with passwd --admin use the admin API; refuses an ordinary user (403) and anonymous (401)', async () => {
    assert.equal(await status('root:root-pw'), 200);
    assert.equal(await status('alice:alice-pw'), 403);
    assert.equal(await status(), 401);
  });
});
