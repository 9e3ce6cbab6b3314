import assert from 'node:assert/strict';
import { request } from 'node:http';
import { parseBasicAuth } from '../../plugins/admin/access.js';
import { createUserRecord, MemoryUserStore } from '../../plugins/auth/index.js';
import { TEST_HOST, type RunningBroker } from '../support/index.js';
import { call, queuePath, startAdminBroker } from './helpers.js';

const FAST = { N: 1024, scramIterations: 4096 };
const alice = { user: 'alice', password: 'wonder' };
const bob = { user: 'bob', password: 'builder' };

async function users(): Promise<MemoryUserStore> {
  return new MemoryUserStore({ alice: await createUserRecord(alice.password, FAST), bob: await createUserRecord(bob.password, FAST) });
}

const RULES = [
  { user: 'alice', allow: ['admin' as const], address: '#' },
  { user: 'bob', allow: ['publish' as const, 'subscribe' as const], address: '#' },
];

describe('admin API: authentication and authorisation', () => {
  describe('anonymous access off', () => {
    let b: RunningBroker;
    before(async () => (b = await startAdminBroker({ userStore: await users(), auth: { allowAnonymous: false, rules: RULES } })));
    after(() => b.close());

    it('asks for HTTP Basic credentials on /api, /metrics and the console', async () => {
      for (const path of ['/api/overview', '/api/queues', '/metrics', '/', '/console/app.js']) {
        const r = await call(b, 'GET', path);
        assert.equal(r.status, 401, path);
        assert.match(String(r.headers['www-authenticate']), /^Basic realm="Junction"/);
      }
      assert.equal((await call(b, 'GET', '/api/overview')).json.error, 'authentication required');
    });

    it('lets a user with the admin action in', async () => {
      const r = await call(b, 'GET', '/api/overview', { auth: alice });
      assert.equal(r.status, 200);
      assert.equal(r.json.auth.anonymousAllowed, false);
      assert.equal((await call(b, 'GET', '/metrics', { auth: alice })).status, 200);
      assert.equal((await call(b, 'GET', '/', { auth: alice })).status, 200);
      assert.equal((await call(b, 'PUT', queuePath('mine'), { auth: alice, body: {} })).status, 201);
    });

    it('refuses a wrong password with 401 and a user without admin with 403', async () => {
      const wrong = await call(b, 'GET', '/api/overview', { auth: { user: 'alice', password: 'nope' } });
      assert.equal(wrong.status, 401);
      assert.equal(wrong.json.error, 'invalid credentials');
      assert.equal((await call(b, 'GET', '/api/overview', { auth: { user: 'mallory', password: 'x' } })).status, 401);
      const forbidden = await call(b, 'DELETE', queuePath('mine'), { auth: bob });
      assert.equal(forbidden.status, 403);
      assert.match(forbidden.json.error, /"bob" may not administer/);
      assert.ok(b.broker.getQueue('mine'), 'nothing happened');
    });

    it('answers a malformed Authorization header with 401', async () => {
      for (const authorization of ['Bearer abc', 'Basic', 'Basic !!!', `Basic ${Buffer.from('no-colon').toString('base64')}`]) {
        const r = await call(b, 'GET', '/api/overview', { headers: { authorization } });
        assert.equal(r.status, 401, authorization);
      }
    });
  });

  describe('anonymous access on', () => {
    it('is open without credentials when no users are configured and there are no rules (dev mode)', async () => {
      const b = await startAdminBroker();
      try {
        assert.equal((await call(b, 'GET', '/api/overview')).status, 200);
        assert.equal((await call(b, 'PUT', queuePath('open'), { body: {} })).status, 201);
      } finally {
        await b.close();
      }
    });

    it('with users configured and no rules, asks anonymous clients for credentials; a wrong password is refused', async () => {
      const b = await startAdminBroker({ userStore: await users(), auth: { allowAnonymous: true } });
      try {
        assert.equal((await call(b, 'GET', '/api/overview')).status, 401);
        assert.equal((await call(b, 'GET', '/api/overview', { auth: alice })).status, 403, 'no admin flag, no rule');
        assert.equal((await call(b, 'GET', '/api/overview', { auth: { user: 'alice', password: 'bad' } })).status, 401);
      } finally {
        await b.close();
      }
    });

    it('asks anonymous clients for credentials when the rules grant them no admin', async () => {
      const b = await startAdminBroker({ userStore: await users(), auth: { allowAnonymous: true, rules: RULES } });
      try {
        const r = await call(b, 'GET', '/api/queues');
        assert.equal(r.status, 401);
        assert.ok(r.headers['www-authenticate']);
        assert.equal((await call(b, 'GET', '/api/queues', { auth: alice })).status, 200);
      } finally {
        await b.close();
      }
    });
  });

  it('parses Basic credentials (password may hold colons, UTF-8)', () => {
    const h = (s: string) => `Basic ${Buffer.from(s, 'utf8').toString('base64')}`;
    assert.deepEqual(parseBasicAuth(h('ü:p:a:ss')), { user: 'ü', password: 'p:a:ss' });
    assert.deepEqual(parseBasicAuth(h(':')), { user: '', password: '' });
    assert.equal(parseBasicAuth(undefined), undefined);
  });
});

describe('admin API: request handling and errors', () => {
  let b: RunningBroker;
  before(async () => (b = await startAdminBroker()));
  after(() => b.close());

  it('refuses state-changing requests from another origin (403), allows same-origin and origin-less ones', async () => {
    const host = `${TEST_HOST}:${b.ports.http}`;
    const evil = await call(b, 'PUT', queuePath('x'), { body: {}, headers: { origin: 'http://evil.example' } });
    assert.equal(evil.status, 403);
    assert.match(evil.json.error, /cross-origin/);
    assert.equal((await call(b, 'PUT', queuePath('x'), { body: {}, headers: { origin: 'null' } })).status, 403);
    assert.equal(b.broker.getQueue('x'), undefined);
    assert.equal((await call(b, 'PUT', queuePath('x'), { body: {}, headers: { origin: `http://${host}` } })).status, 201);
    assert.equal((await call(b, 'GET', '/api/queues', { headers: { origin: 'http://evil.example' } })).status, 200, 'reads are harmless (no CORS headers)');
  });

  it('answers unknown endpoints with 404 and wrong methods with 405 and Allow', async () => {
    const r = await call(b, 'GET', '/api/nothing');
    assert.equal(r.status, 404);
    assert.equal(r.json.error, 'no such API endpoint');
    const m = await call(b, 'PATCH', '/api/queues');
    assert.equal(m.status, 405);
    assert.equal(m.headers.allow, 'GET, HEAD');
    assert.equal((await call(b, 'GET', '/api/publish')).status, 405);
  });

  it('answers HEAD like GET without a body', async () => {
    const r = await call(b, 'HEAD', '/api/overview');
    assert.equal(r.status, 200);
    assert.equal(r.text, '');
    assert.match(r.headers['content-type']!, /application\/json/);
  });

  it('refuses bodies that are not JSON objects: 415 wrong type, 400 malformed or not an object', async () => {
    const wrongType = await call(b, 'POST', '/api/publish', { raw: 'topic=x', headers: { 'content-type': 'application/x-www-form-urlencoded' } });
    assert.equal(wrongType.status, 415);
    assert.equal((await call(b, 'POST', '/api/publish', { raw: '{"topic":', headers: { 'content-type': 'application/json' } })).status, 400);
    assert.equal((await call(b, 'POST', '/api/publish', { body: ['topic'] })).status, 400);
    assert.equal((await call(b, 'POST', '/api/publish', { body: null })).status, 400);
    assert.equal((await call(b, 'POST', '/api/publish')).status, 400, 'no body');
  });

  it('refuses a declared Content-Length over 1 MiB with 413', async () => {
    const big = JSON.stringify({ topic: 't', payload: 'x'.repeat(1024 * 1024) });
    const r = await call(b, 'POST', '/api/publish', { raw: big, headers: { 'content-type': 'application/json' } });
    assert.equal(r.status, 413);
    assert.match(r.json.error, /larger than 1048576 bytes/);
  });

  it('stops reading a chunked body past 1 MiB and answers 413', async () => {
    const status = await new Promise<number>((resolve, reject) => {
      const req = request({ host: TEST_HOST, port: b.ports.http, method: 'POST', path: '/api/publish', headers: { 'content-type': 'application/json' } }, (res) => {
        res.resume();
        resolve(res.statusCode!);
      });
      req.on('error', reject);
      const chunk = Buffer.alloc(64 * 1024, 0x20);
      let sent = 0;
      const pump = () => {
        while (sent < 4 * 1024 * 1024) {
          sent += chunk.length;
          if (!req.write(chunk)) return void req.once('drain', pump);
        }
        req.end();
      };
      pump();
    });
    assert.equal(status, 413);
    assert.equal((await call(b, 'GET', '/api/overview')).status, 200, 'the listener carries on');
  });

  it('answers JSON with no-store and nosniff', async () => {
    const r = await call(b, 'GET', '/api/overview');
    assert.equal(r.headers['cache-control'], 'no-store');
    assert.equal(r.headers['x-content-type-options'], 'nosniff');
  });
});
