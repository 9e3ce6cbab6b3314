/** test/support: eventually's contract, and startBroker going through the platform's settings check. */
import assert from 'node:assert/strict';
import { eventually, startBroker } from '../support/index.js';

describe('platform/test support', () => {
  it('eventually resolves with the first truthy value, counting a throw as "not yet"', async () => {
    let n = 0;
    const got = await eventually(() => {
      n++;
      if (n < 3) throw new Error('not ready');
      return n === 4 ? { n } : 0;
    }, { what: 'the fourth try' });
    assert.deepEqual(got, { n: 4 });
  });

  it('eventually fails naming what it waited for (or the condition) and the last error', async () => {
    await assert.rejects(eventually(() => false, { timeout: 30, what: 'the queue to drain' }), /timed out after 30 ms waiting for the queue to drain$/);
    const state = { count: 1 };
    await assert.rejects(eventually(() => state.count === 2, { timeout: 30 }), /waiting for state\.count === 2$/);
    await assert.rejects(eventually(() => { throw new Error('refused'); }, { timeout: 30, what: () => `count ${state.count}` }), /waiting for count 1 \(last error: refused\)$/);
  });

  it('startBroker validates its settings like junction start: an unknown key stops it, naming the key', async () => {
    await assert.rejects(startBroker({ protocols: ['amqp'], amqp: { creditWindw: 5 } } as never), /amqp\.creditWindw/);
  });
});
