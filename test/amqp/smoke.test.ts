import assert from 'node:assert/strict';
import { close, connect, openReceiver, openSender, receive, send, startAmqp, type Harness } from './helpers.js';

describe('amqp smoke', () => {
  let h: Harness;
  before(async () => { h = await startAmqp(); });
  after(async () => { await h.stop(); });

  it('sends to a queue and receives', async () => {
    const c = await connect(h.port);
    const s = await openSender(c, '/queue/smoke');
    assert.equal(await send(s, { body: 'hello', durable: true }), 'accepted');
    const r = await openReceiver(c, '/queue/smoke');
    const [m] = await receive(r, 1);
    assert.equal(m.message.body, 'hello');
    m.delivery.accept();
    await close(c);
  });
});
