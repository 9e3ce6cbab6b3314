/**
 * Output back-pressure on XMPP: a bound client that never reads its socket while another client
 * sends it chat messages as fast as the broker takes them. Its output stays at
 * xmpp.sendHighWaterBytes, the sender is held back (its socket stops being read), the broker's
 * memory stays bounded, and two other clients keep chatting.
 */
import assert from 'node:assert/strict';
import { DOMAIN, login, nextStanza, rawLogin, startXmpp, stopAll, xmlEl, type Harness } from './helpers.js';
import { liveBytes } from '../support/memory.js';

const MiB = 1024 * 1024;

describe('xmpp: a client that never reads', function () {
  this.timeout(120_000);
  let h: Harness;
  before(async () => {
    // No inbound byte rate, so what holds the sender back is the reader's output, not the rate limit.
    h = await startXmpp({ auth: { users: { alice: 'a', bob: 'b', carol: 'c', dave: 'd' } }, xmpp: { rateBytesPerSecond: 0 } });
  });
  after(async () => h?.close());

  it('holds the broker to a bound while a sender offers 200 MB of chat to it; the sender is held back, others chat on', async () => {
    const bob = await rawLogin(h.port, 'bob', 'b');
    bob.send('<presence/>');
    await bob.waitFor(/<presence[^>]*from='bob@/);
    bob.socket.pause();

    const before = await liveBytes();
    let peak = 0;
    const alice = await rawLogin(h.port, 'alice', 'a');
    const body = 'x'.repeat(32 * 1024);
    const stanza = `<message to='bob@${DOMAIN}/raw' type='chat'><body>${body}</body></message>`;
    let written = 0;
    let stalled = false;
    while (written < 200 * MiB && !stalled) {
      written += stanza.length;
      if (alice.socket.write(stanza)) continue;
      stalled = !(await new Promise<boolean>((resolve) => {
        const t = setTimeout(() => resolve(false), 2000);
        alice.socket.once('drain', () => { clearTimeout(t); resolve(true); });
      }));
      if (written % (16 * MiB) < stanza.length) peak = Math.max(peak, (await liveBytes()) - before);
    }
    peak = Math.max(peak, (await liveBytes()) - before);
    assert.ok(stalled, `the sender is held back (offered ${(written / MiB).toFixed(0)} MiB)`);
    assert.ok(peak < 64 * MiB, `broker memory grew by ${(peak / MiB).toFixed(1)} MiB`);
    assert.equal(bob.closed, false, 'the slow reader is held, not disconnected');

    const carol = await login(h.port, 'carol', 'c', { presence: true });
    const dave = await login(h.port, 'dave', 'd', { presence: true });
    const got = nextStanza(dave, (s) => s.is('message') && s.getChildText('body') === 'alive');
    await carol.send(xmlEl('message', { to: `dave@${DOMAIN}`, type: 'chat' }, xmlEl('body', {}, 'alive')));
    await got;
    await stopAll(carol, dave);
    alice.destroy();
    bob.destroy();
  });
});
