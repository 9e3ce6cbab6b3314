/**
 * The SASL service (plugins/auth/sasl.ts) over the real auth plugin, without a protocol: which
 * mechanisms a peer is offered, PLAIN, ANONYMOUS and EXTERNAL policy, SCRAM against the RFC's
 * arithmetic (test/support/scram-client.ts), and malformed messages refused, never thrown.
 */
import assert from 'node:assert/strict';
import type { SaslOutcome, SaslTlsPeer } from '../../core/adapter.js';
import { createAuthPlugin, createSaslService, createUserRecord, MemoryUserStore } from '../../plugins/auth/index.js';
import { ScramClient } from '../support/scram-client.js';

async function service(allowAnonymous: boolean, tlsCa = true) {
  const users = new MemoryUserStore({ alice: await createUserRecord('wonderland', { N: 1024 }) });
  const auth = await createAuthPlugin({ config: { usersFile: null, allowAnonymous, rules: [], maxFailuresPerMinute: 0 } as never, users });
  return createSaslService(auth, () => (tlsCa ? { ca: 'a CA', requestCert: true } : { requestCert: true }));
}

/** A TLS socket's view as node gives it (EXTERNAL reads `authorized` and the subject). */
function tlsPeer(cn: string | undefined, authorized = true): SaslTlsPeer {
  return { authorized, getPeerCertificate: () => (cn === undefined ? {} : { subject: { CN: cn } }) };
}

const failure = (o: SaslOutcome) => (o.kind === 'failure' ? o.reason : `${o.kind}`);

describe('SASL service', () => {
  it('offers SCRAM and PLAIN always, ANONYMOUS only while allowed, EXTERNAL only for a verified certificate on a listener with a CA', async () => {
    const closed = await service(false);
    const open = await service(true);
    const peer = { protocol: 'amqp' };
    assert.deepEqual(closed.offered(peer), ['SCRAM-SHA-512', 'SCRAM-SHA-256', 'SCRAM-SHA-1', 'PLAIN']);
    assert.deepEqual(open.offered(peer), ['SCRAM-SHA-512', 'SCRAM-SHA-256', 'SCRAM-SHA-1', 'PLAIN', 'ANONYMOUS']);
    assert.deepEqual(closed.offered({ ...peer, tls: tlsPeer('carol') }, ['EXTERNAL', 'PLAIN']), ['EXTERNAL', 'PLAIN']);
    assert.deepEqual(closed.offered({ ...peer, tls: tlsPeer('carol', false) }, ['EXTERNAL']), [], 'unverified certificate');
    assert.deepEqual(closed.offered({ ...peer, tls: tlsPeer(undefined) }, ['EXTERNAL']), [], 'no common name');
    assert.deepEqual((await service(false, false)).offered({ ...peer, tls: tlsPeer('carol') }, ['EXTERNAL']), [], 'listener trusts the system CAs only');
    assert.deepEqual(closed.offered(peer, ['GSSAPI', 'PLAIN']), ['PLAIN']);
  });

  it('PLAIN: the right password succeeds; a wrong one, an unknown name (even with anonymous allowed), a foreign authzid and junk fail', async () => {
    const s = await service(true);
    const plain = (text: string) => s.exchange({ protocol: 'test' }).start('PLAIN', Buffer.from(text));
    const ok = await plain('\0alice\0wonderland');
    assert.deepEqual(ok, { kind: 'success', principal: { user: 'alice', anonymous: false } });
    assert.equal(failure(await plain('\0alice\0nope')), 'not-authorized');
    assert.equal(failure(await plain('\0mallory\0x')), 'not-authorized');
    assert.equal(failure(await plain('bob\0alice\0wonderland')), 'invalid-authzid');
    assert.equal(failure(await plain('no separators')), 'malformed-request');
    assert.equal(failure(await s.exchange({ protocol: 'test' }).start('NOPE', null)), 'invalid-mechanism');
    // No initial response: an empty challenge asks for it.
    const ex = s.exchange({ protocol: 'test' });
    assert.deepEqual(await ex.start('PLAIN', null), { kind: 'challenge', data: Buffer.alloc(0) });
    assert.equal((await ex.step(Buffer.from('\0alice\0wonderland'))).kind, 'success');
  });

  it('ANONYMOUS succeeds only while anonymous access is allowed', async () => {
    assert.deepEqual(await (await service(true)).exchange({ protocol: 'test' }).start('ANONYMOUS', Buffer.from('trace')),
      { kind: 'success', principal: { user: 'anonymous', anonymous: true } });
    assert.equal(failure(await (await service(false)).exchange({ protocol: 'test' }).start('ANONYMOUS', null)), 'invalid-mechanism');
  });

  it("EXTERNAL names the certificate's common name; another authorisation id is refused", async () => {
    const s = await service(false);
    const peer = { protocol: 'xmpp', tls: tlsPeer('carol'), domain: 'localhost' };
    assert.deepEqual(await s.exchange(peer).start('EXTERNAL', Buffer.alloc(0)), { kind: 'success', principal: { user: 'carol', anonymous: false } });
    assert.equal((await s.exchange(peer).start('EXTERNAL', Buffer.from('carol@localhost'))).kind, 'success');
    assert.equal(failure(await s.exchange(peer).start('EXTERNAL', Buffer.from('alice'))), 'invalid-authzid');
    assert.equal(failure(await s.exchange({ protocol: 'xmpp' }).start('EXTERNAL', null)), 'invalid-mechanism');
  });

  for (const mechanism of ['SCRAM-SHA-1', 'SCRAM-SHA-256', 'SCRAM-SHA-512'] as const) {
    it(`${mechanism}: a full exchange proves both sides; a wrong password fails at the final step`, async () => {
      const s = await service(false);
      for (const [password, expected] of [['wonderland', 'success'], ['nope', 'not-authorized']]) {
        const client = new ScramClient(mechanism, 'alice', password);
        const ex = s.exchange({ protocol: 'test' });
        const first = await ex.start(mechanism, client.first());
        assert.equal(first.kind, 'challenge');
        const last = await ex.step(client.final((first as { data: Buffer }).data));
        assert.equal(failure(last), expected);
        if (last.kind === 'success') assert.ok(client.verify(last.data));
      }
    });
  }

  it('SCRAM refuses malformed messages, channel binding, a foreign authzid and a wrong nonce without throwing', async () => {
    const s = await service(false);
    const start = (m: string) => s.exchange({ protocol: 'test' }).start('SCRAM-SHA-256', Buffer.from(m));
    for (const bad of ['junk', 'n,,r=abc', 'n,,n=alice', 'p=tls-unique,,n=alice,r=abc', 'n,,n=al=ice,r=abc', 'n,,n=alice,r=abc,m=ext', `n,,n=alice,r=${'x'.repeat(5000)}`]) {
      assert.equal(failure(await start(bad)), 'malformed-request', bad.slice(0, 40));
    }
    assert.equal(failure(await start('n,a=bob,n=alice,r=abc')), 'invalid-authzid');
    const ex = s.exchange({ protocol: 'test' });
    await ex.start('SCRAM-SHA-256', Buffer.from('n,,n=alice,r=abc'));
    assert.equal(failure(await ex.step(Buffer.from('c=biws,r=abcWRONG,p=AAAA'))), 'malformed-request');
    assert.equal(failure(await ex.step(Buffer.from('anything'))), 'malformed-request', 'the exchange is over');
  });
});
