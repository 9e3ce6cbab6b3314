import assert from 'node:assert/strict';
import { TopicRouter } from '../../core/router.js';
import { checkTopicName, checkTopicPattern, topicMatches } from '../../core/names.js';

describe('core/router: topic patterns', () => {
  const cases: Array<[string, string, boolean]> = [
    ['a.b.c', 'a.b.c', true],
    ['a.*.c', 'a.b.c', true],
    ['a.*.c', 'a.c', false],
    ['a.#', 'a', true],
    ['a.#', 'a.b.c.d', true],
    ['#', 'x.y', true],
    ['#.c', 'a.b.c', true],
    ['a.#.d', 'a.d', true],
    ['a.#.d', 'a.b.c.d', true],
    ['a.#.d', 'a.b.c', false],
    ['*', 'a.b', false],
    ['*.*', 'a.b', true],
    ['#', '$SYS.broker', false],
    ['*.broker', '$SYS.broker', false],
    ['$SYS.#', '$SYS.broker', true],
  ];

  for (const [pattern, topic, expected] of cases) {
    it(`${pattern} ${expected ? 'matches' : 'does not match'} ${topic}`, () => {
      const r = new TopicRouter<string>();
      r.bind('q', { pattern, target: 'q' });
      assert.equal(r.match(topic).length > 0, expected);
      assert.equal(topicMatches(pattern, topic), expected);
    });
  }

  it('matches many bindings and drops them on unbind', () => {
    const r = new TopicRouter<string>();
    r.bind('q1', { pattern: 'sensors.#', target: 'q1' });
    r.bind('q2', { pattern: 'sensors.*.temp', target: 'q2' });
    r.bind('q3', { pattern: 'other', target: 'q3' });
    assert.deepEqual(r.match('sensors.room1.temp').map((b) => b.target).sort(), ['q1', 'q2']);
    r.unbind('q2', 'sensors.*.temp');
    assert.deepEqual(r.match('sensors.room1.temp').map((b) => b.target), ['q1']);
    r.unbindAll('q1');
    assert.equal(r.match('sensors.room1.temp').length, 0);
  });

  it('refuses malformed names and patterns', () => {
    assert.throws(() => checkTopicName('a.*'), /wildcard/);
    assert.throws(() => checkTopicName(''), /empty/);
    assert.throws(() => checkTopicPattern('a.b*'), /whole word/);
    assert.doesNotThrow(() => checkTopicPattern('a.*.#'));
  });

  it('holds 100,000 bindings and matches wildcards among them', () => {
    const r = new TopicRouter<number>();
    for (let i = 0; i < 100_000; i++) r.bind(`s${i}`, { pattern: `dev.${i}.*`, target: i });
    r.bind('all', { pattern: 'dev.#', target: -1 });
    assert.deepEqual(r.match('dev.4242.temp').map((b) => b.target).sort((a, b) => a - b), [-1, 4242]);
    assert.equal(r.size, 100_001);
  });
});
