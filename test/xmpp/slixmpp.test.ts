/**
 * Debian's python3-slixmpp (run with /usr/bin/python3) against the adapter: registration, login,
 * presence subscription, roster, chat, offline delivery, disco, ping, XEP-0060 through its
 * xep_0060 plugin, and SASL SCRAM-SHA-1/256/512 with right and wrong passwords. Skipped with a message when the package is missing, except under CI=true.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
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
});
