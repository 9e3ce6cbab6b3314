import assert from 'node:assert/strict';
import { createMessage } from '../../core/message.js';
import type { RunningBroker } from '../support/index.js';
import { call, startAdminBroker } from './helpers.js';

describe('admin API: streams and consumer groups', () => {
  let b: RunningBroker;
  beforeEach(async () => (b = await startAdminBroker()));
  afterEach(() => b.close());

  it('creates a stream with PUT and lists its partitions and config', async () => {
    const r = await call(b, 'PUT', '/api/streams/metrics.raw', { body: { partitions: 3, retentionMs: 3600000, retentionBytes: 1048576, patterns: ['sensors.#'] } });
    assert.equal(r.status, 201);
    assert.equal(r.headers.location, '/api/streams/metrics.raw');
    assert.equal(r.json.config.partitions, 3);
    assert.equal(r.json.config.retentionMs, 3600000);
    assert.equal(r.json.config.retentionBytes, 1048576);
    assert.deepEqual(r.json.config.patterns, ['sensors.#']);
    assert.deepEqual(r.json.partitions.map((p: { partition: number }) => p.partition), [0, 1, 2]);

    await b.broker.publish(createMessage({ topic: 'sensors.room1', payload: Buffer.from('21.5') }));
    await b.broker.publish(createMessage({ topic: 'metrics.raw', payload: Buffer.from('x'), key: Buffer.from('k') }));
    const list = await call(b, 'GET', '/api/streams');
    assert.equal(list.status, 200);
    assert.equal(list.json.streams.length, 1);
    const s = list.json.streams[0];
    assert.equal(s.name, 'metrics.raw');
    assert.equal(s.messages, 2);
    assert.equal(s.partitions.reduce((n: number, p: { highWatermark: number }) => n + p.highWatermark, 0), 2);
    for (const p of s.partitions) {
      assert.equal(p.logStartOffset, 0);
      assert.equal(p.messages, p.highWatermark - p.logStartOffset);
      assert.equal(p.sizeBytes > 0, p.highWatermark > 0);
    }
    assert.equal(s.sizeBytes, s.partitions.reduce((n: number, p: { sizeBytes: number }) => n + p.sizeBytes, 0));
    assert.deepEqual((await call(b, 'GET', '/api/streams/metrics.raw')).json, s);
  });

  it('reconfigures an existing stream: retention, patterns, more partitions; never fewer', async () => {
    await b.broker.createStream('logs', { partitions: 2 });
    const r = await call(b, 'PUT', '/api/streams/logs', { body: { partitions: 4, retentionMs: -1, patterns: ['app.*.log'] } });
    assert.equal(r.status, 200);
    assert.equal(r.json.config.partitions, 4);
    assert.equal(r.json.config.retentionMs, -1);
    assert.deepEqual(r.json.config.patterns, ['app.*.log']);
    assert.equal(b.broker.getStream('logs')!.partitions.length, 4);
    assert.equal(b.broker.hasRoute('app.web.log'), true);

    const fewer = await call(b, 'PUT', '/api/streams/logs', { body: { partitions: 1 } });
    assert.equal(fewer.status, 409);
    assert.match(fewer.json.error, /cannot be removed/);
  });

  it('refuses bad stream settings and names with 400', async () => {
    for (const body of [{ partitions: 0 }, { partitions: 1.5 }, { retentionMs: 0 }, { retentionBytes: -2 }, { patterns: 'a.#' }, { patterns: ['a.b#'] }, { compaction: true }]) {
      const r = await call(b, 'PUT', '/api/streams/s', { body });
      assert.equal(r.status, 400, JSON.stringify(body));
      assert.ok(r.json.error);
    }
    assert.equal((await call(b, 'PUT', `/api/streams/${encodeURIComponent('bad.#')}`, { body: {} })).status, 400, 'wildcard in a stream name');
    assert.equal(b.broker.getStream('s'), undefined);
  });

  it('deletes streams; 404 for unknown ones', async () => {
    await b.broker.createStream('gone');
    assert.equal((await call(b, 'DELETE', '/api/streams/gone')).status, 204);
    assert.equal(b.broker.getStream('gone'), undefined);
    assert.equal((await call(b, 'DELETE', '/api/streams/gone')).status, 404);
    assert.equal((await call(b, 'GET', '/api/streams/gone')).status, 404);
  });

  it('lists consumer groups with committed offsets and lag = high watermark - committed', async () => {
    await b.broker.createStream('events', { partitions: 2 });
    const s = b.broker.getStream('events')!;
    for (let i = 0; i < 5; i++) await s.appendMessages([createMessage({ topic: 'events', payload: Buffer.from(`e${i}`), key: Buffer.from(`k${i}`) })]);
    const hw = s.partitions.map((p) => p.highWatermark);
    await b.broker.offsets.commit('billing', [{ stream: 'events', partition: 0, offset: 0 }, { stream: 'events', partition: 1, offset: hw[1] }]);
    await b.broker.offsets.commit('audit', [{ stream: 'events', partition: 0, offset: hw[0], metadata: 'm' }, { stream: 'vanished', partition: 0, offset: 3 }]);

    const r = await call(b, 'GET', '/api/groups');
    assert.equal(r.status, 200);
    assert.deepEqual(r.json.groups.map((g: { group: string }) => g.group), ['audit', 'billing']);
    const billing = r.json.groups[1];
    assert.deepEqual(billing.offsets.map((o: { partition: number; committed: number; highWatermark: number; lag: number }) => [o.partition, o.committed, o.highWatermark, o.lag]), [
      [0, 0, hw[0], hw[0]],
      [1, hw[1], hw[1], 0],
    ]);
    assert.equal(billing.lag, hw[0]);
    const audit = r.json.groups[0];
    assert.equal(audit.offsets[0].metadata, 'm');
    assert.deepEqual([audit.offsets[1].stream, audit.offsets[1].highWatermark, audit.offsets[1].lag], ['vanished', null, null]);

    const one = await call(b, 'GET', '/api/groups/billing');
    assert.deepEqual(one.json, billing);
    assert.equal((await call(b, 'GET', '/api/groups/nobody')).status, 404);
  });
});
