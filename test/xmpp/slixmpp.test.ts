/**
 * Debian's python3-slixmpp (run with /usr/bin/python3) against the adapter: registration, login,
 * presence subscription, roster, chat, offline delivery, disco, ping, XEP-0060 through its
 * xep_0060 plugin, and SASL SCRAM-SHA-1/256/512 with right and wrong passwords. Skipped with a message when the package is missing, except under CI=true.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createTestPki, type TestPki } from '../support/certificates.js';
import { DEBIAN_PYTHON, requireDebianClient } from '../support/debian.js';
import { type Harness, startXmpp } from './helpers.js';

const SCRIPT = fileURLToPath(new URL('../../../test/xmpp/slixmpp_client.py', import.meta.url));

function run(scenario: string, port: number, ...args: string[]): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    execFile(DEBIAN_PYTHON, [SCRIPT, scenario, String(port), ...args], { timeout: 90000 }, (err, stdout, stderr) => {
      const line = stdout.trim().split('\n').pop() ?? '';
      if (err) return reject(new Error(`${scenario} failed: ${err.message}\n${stderr.slice(-3000)}`));
      try {
        resolve(JSON.parse(line));
      } catch {
        reject(new Error(`${scenario}: no result\n${stdout}\n${stderr.slice(-3000)}`));
      }
    });
  });
}

describe('xmpp with slixmpp (Debian python3-slixmpp)', function () {
  this.timeout(120000);
  let h: Harness;

  before(requireDebianClient('python3-slixmpp', 'python3:slixmpp'));
  before(async () => { h = await startXmpp({ xmpp: { mechanisms: ['SCRAM-SHA-512', 'SCRAM-SHA-256', 'SCRAM-SHA-1', 'PLAIN'] } }); });
  after(async () => { await h?.close(); });

  it('registers, logs in, subscribes to presence, chats, and gets offline messages', async () => {
    const r = await run('im', h.port);
    assert.equal(r.registered, true);
    assert.match(String(r.presence_from), /^sx2[0-9a-f]+@localhost\/py$/);
    assert.equal(r.subscription, 'both');
    assert.equal(r.chat, 'hello from slixmpp');
    assert.equal(r.reply, 'reply');
    assert.equal(r.offline, 'kept for you');
    assert.equal(r.offline_delayed, true);
    assert.equal(r.disco_features, true);
  });

  it('uses XEP-0060 through the xep_0060 plugin', async () => {
    const r = await run('pubsub', h.port);
    assert.deepEqual(r, { event_id: 'py-1', event_payload: '42', items: ['py-1'], listed: true, deleted: true });
  });

  for (const mech of ['SCRAM-SHA-1', 'SCRAM-SHA-256', 'SCRAM-SHA-512']) {
    it(`logs in with ${mech}; a wrong password is refused`, async () => {
      assert.deepEqual(await run('login', h.port, mech, 'alice', 'alice-pw'), { ok: true, mech });
      assert.deepEqual(await run('login', h.port, mech, 'alice', 'not-alice-pw'), { ok: false, mech });
    });
  }

  describe('SASL EXTERNAL after STARTTLS with a client certificate', () => {
    let dir: string;
    let pki: TestPki;
    let t: Harness;
    before(requireDebianClient('openssl'));
    before(async () => {
      dir = mkdtempSync(join(tmpdir(), 'xmpp-external-'));
      pki = createTestPki(dir);
      t = await startXmpp({
        tls: { cert: readFileSync(pki.serverCert), key: readFileSync(pki.serverKey), ca: readFileSync(pki.ca) },
        xmpp: { tls: { requestClientCert: true } },
      });
    });
    after(async () => {
      await t?.close();
      if (dir) rmSync(dir, { recursive: true, force: true });
    });

    it("logs in as the certificate's common name, whatever JID the client asked for; a certificate from another CA gets no EXTERNAL", async () => {
      const alice = pki.client('alice');
      assert.deepEqual(await run('external', t.port, 'alice', alice.cert, alice.key, pki.ca), { ok: true, jid: 'alice@localhost/sx' });
      const mallory = pki.client('mallory');
      assert.deepEqual(await run('external', t.port, 'alice', mallory.cert, mallory.key, pki.ca), { ok: true, jid: 'mallory@localhost/sx' });
      const otherDir = mkdtempSync(join(tmpdir(), 'xmpp-other-ca-'));
      try {
        const forged = createTestPki(otherDir).client('alice');
        assert.deepEqual(await run('external', t.port, 'alice', forged.cert, forged.key, pki.ca), { ok: false, jid: null });
      } finally {
        rmSync(otherDir, { recursive: true, force: true });
      }
    });
  });
});
