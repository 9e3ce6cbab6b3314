import assert from 'node:assert/strict';
import type { Delivery } from '../../core/queue-types.js';
import { compileSelector, SelectorError } from '../../core/selector.js';
import { bodies, msg, openBroker } from './helpers.js';

const m = msg('t', 'x', {
  priority: 7, messageId: 'id-1', correlationId: 'c-9', durable: true,
  headers: { region: 'eu', count: 5, big: 12n, price: '19.5', flag: true, name: 'order_100%', empty: '' },
});
const sel = (s: string) => compileSelector(s)(m);

describe('core/selector (JMS SQL-92 subset)', () => {
  const cases: Array<[string, boolean]> = [
    ["priority > 4 AND region = 'eu'", true],
    ["priority > 7 OR region <> 'eu'", false],
    ['JMSPriority = 7', true],
    ["JMSMessageID = 'id-1' AND JMSCorrelationID = 'c-9'", true],
    ["JMSDeliveryMode = 'PERSISTENT'", true],
    ['count BETWEEN 1 AND 5', true],
    ['count NOT BETWEEN 1 AND 5', false],
    ['big = 12 AND big * 2 = 24 AND (count + 1) / 2 = 3', true],
    ['price > 19 AND price < 20', true],
    ["region IN ('us', 'eu')", true],
    ["region NOT IN ('us', 'eu')", false],
    ["name LIKE 'order%'", true],
    ["name LIKE 'order_1__!%' ESCAPE '!'", true],
    ["name LIKE 'order_1__x%' ESCAPE 'x'", true],
    ["name LIKE '%100'", false],
    ["name NOT LIKE '_rder%'", false],
    ['missing IS NULL AND region IS NOT NULL', true],
    ['flag = TRUE AND NOT flag = FALSE', true],
    ["empty = ''", true],
    // Unknown (a missing header) is neither true nor false.
    ['missing = 1', false],
    ['NOT missing = 1', false],
    ['missing = 1 OR count = 5', true],
    ['missing > 1 AND count = 5', false],
    ["region = 1", false],
    ['-count < -4 AND +count = 5 AND 1.5e1 = 15 AND 3L = 3', true],
    ["region='eu'AND(priority>=7)", true],
    ['count / 0 = 1', false],
  ];
  for (const [source, expected] of cases) {
    it(`${source} -> ${expected}`, () => assert.equal(sel(source), expected));
  }

  const bad: Array<[string, RegExp]> = [
    ['', /empty/],
    ["region = 'eu", /unterminated string/],
    ['region = ', /expected a value/],
    ['priority >> 4', /expected a value/],
    ["region LIKE 5", /string pattern/],
    ["name LIKE 'a' ESCAPE 'ab'", /one-character/],
    ['count BETWEEN 1', /expected AND/],
    ['region IN ()', /literal/],
    ['a = 1 b', /expected an operator or the end, found "b" at position 6/],
    ['region # 1', /unexpected character/],
    ['NOT', /expected a value/],
    ['count NOT 5', /BETWEEN, IN or LIKE/],
    ['('.repeat(100) + '1' + ')'.repeat(100), /nested deeper/],
    ['x = 1 AND '.repeat(500) + 'x = 1', /longer than 4096/],
  ];
  for (const [source, error] of bad) {
    it(`refuses ${source.slice(0, 40)}`, () => {
      assert.throws(() => compileSelector(source), (e: unknown) => e instanceof SelectorError && error.test(e.message));
    });
  }

  it('a queue consumer with a selector gets only what it selects; the rest stays for others, in order', async () => {
    const broker = await openBroker();
    const q = await broker.declareQueue('sel');
    for (const [body, region, priority] of [['eu-1', 'eu', 4], ['us-1', 'us', 4], ['eu-2', 'eu', 9], ['us-2', 'us', 1]] as const) {
      await broker.sendToQueue('sel', msg('sel', body, { headers: { region }, priority }));
    }
    const eu: Delivery[] = [];
    q.consume({ prefetch: 0, autoAck: true, creditMode: false, selector: compileSelector("region = 'eu'") }, (d) => eu.push(d));
    assert.deepEqual(bodies(eu), ['eu-2', 'eu-1']);
    assert.equal(q.messageCount, 2, 'the US messages wait');
    const rest: Delivery[] = [];
    q.consume({ prefetch: 0, autoAck: true, creditMode: false }, (d) => rest.push(d));
    assert.deepEqual(bodies(rest), ['us-1', 'us-2']);
    await broker.sendToQueue('sel', msg('sel', 'eu-3', { headers: { region: 'eu' } }));
    await broker.sendToQueue('sel', msg('sel', 'us-3', { headers: { region: 'us' } }));
    assert.deepEqual(bodies(eu), ['eu-2', 'eu-1', 'eu-3']);
    assert.deepEqual(bodies(rest), ['us-1', 'us-2', 'us-3']);
    await broker.close();
  });

  it('a busy selecting consumer keeps its messages while another consumer takes the rest', async () => {
    const broker = await openBroker();
    const q = await broker.declareQueue('busy');
    const a: Delivery[] = [];
    const ca = q.consume({ prefetch: 1, autoAck: false, creditMode: false, selector: compileSelector('n < 3') }, (d) => a.push(d));
    const b: Delivery[] = [];
    q.consume({ prefetch: 0, autoAck: true, creditMode: false, selector: compileSelector('n >= 3') }, (d) => b.push(d));
    for (let n = 0; n < 6; n++) await broker.sendToQueue('busy', msg('busy', `m${n}`, { headers: { n } }));
    assert.deepEqual(bodies(a), ['m0']);
    assert.deepEqual(bodies(b), ['m3', 'm4', 'm5']);
    await ca.ack(a[0].tag);
    await ca.ack(a[1].tag);
    assert.deepEqual(bodies(a), ['m0', 'm1', 'm2']);
    await broker.close();
  });

  it('dropUnselected (a topic subscription\'s own queue) removes what its consumer does not select', async () => {
    const broker = await openBroker();
    const q = await broker.declareQueue('sub', { autoDelete: true });
    await broker.bindQueue('sub', 'prices.#');
    const got: Delivery[] = [];
    q.consume({ prefetch: 0, autoAck: true, creditMode: false, selector: compileSelector('price > 10'), dropUnselected: true }, (d) => got.push(d));
    for (const price of [5, 15, 8, 20]) await broker.publish(msg('prices.x', `p${price}`, { headers: { price } }));
    assert.deepEqual(bodies(got), ['p15', 'p20']);
    assert.equal(q.messageCount, 0);
    await broker.close();
  });
});
