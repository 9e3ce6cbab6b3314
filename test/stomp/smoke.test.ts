import assert from 'node:assert/strict';
import { RawStomp, startStomp, stompjs, type StompBroker } from './helpers.js';

describe('STOMP smoke', () => {
  let s: StompBroker;
  before(async () => { s = await startStomp(); });
  after(async () => { await s.close(); });

  it('tcp send/subscribe', async () => {
    const c = await RawStomp.connect(s.port);
    await c.sendWithReceipt('SUBSCRIBE', { id: '1', destination: '/queue/smoke', ack: 'client-individual' });
    await c.sendWithReceipt('SEND', { destination: '/queue/smoke', persistent: 'true' }, 'hello');
    const m = await c.expect('MESSAGE');
    assert.equal(m.body.toString(), 'hello');
    await c.sendWithReceipt('ACK', { id: m.headers.ack });
    await c.disconnect();
  });

  it('ws stompjs', async () => {
    const client = await stompjs(s.wsUrl);
    const got = new Promise<string>((resolve) => client.subscribe('/topic/a.b', (m) => resolve(m.body)));
    client.publish({ destination: '/topic/a.b', body: 'x' });
    assert.equal(await got, 'x');
    await client.deactivate();
  });
});
