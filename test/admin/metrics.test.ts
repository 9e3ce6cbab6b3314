import assert from 'node:assert/strict';
import { createMessage } from '../../core/message.js';
import { escapeHelp, escapeLabelValue, ExpositionWriter, formatValue } from '../../plugins/metrics/prometheus-format.js';
import { LatencyHistogram } from '../../core/latency-histogram.js';
import { removeTempDir, tempDir, type RunningBroker } from '../support/index.js';
import { call, startAdminBroker } from './helpers.js';

interface ParsedSample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

interface Exposition {
  types: Map<string, string>;
  help: Map<string, string>;
  samples: ParsedSample[];
}

/** A strict parser for the text format 0.0.4, enough to check what /metrics writes. */
function parseExposition(text: string): Exposition {
  assert.ok(text.endsWith('\n'), 'ends with a newline');
  const out: Exposition = { types: new Map(), help: new Map(), samples: [] };
  const closed = new Set<string>();
  let current = '';
  for (const line of text.slice(0, -1).split('\n')) {
    const meta = /^# (HELP|TYPE) ([a-zA-Z_:][a-zA-Z0-9_:]*) (.*)$/.exec(line);
    if (meta) {
      const [, kind, name, rest] = meta;
      if (kind === 'TYPE') {
        assert.ok(['counter', 'gauge', 'untyped', 'histogram', 'summary'].includes(rest), `type of ${name}`);
        assert.ok(!out.types.has(name), `one TYPE line for ${name}`);
        out.types.set(name, rest);
      } else {
        assert.ok(!out.help.has(name), `one HELP line for ${name}`);
        assert.ok(!/\\[^\\n]/.test(rest.replace(/\\\\/g, '')), `HELP escapes of ${name}`);
        out.help.set(name, rest);
      }
      if (name !== current) {
        assert.ok(!closed.has(name), `family ${name} written in one piece`);
        if (current) closed.add(current);
        current = name;
      }
      continue;
    }
    assert.ok(!line.startsWith('#'), `unexpected comment: ${line}`);
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{.*\})? (\S+)$/.exec(line);
    assert.ok(m, `sample line: ${JSON.stringify(line)}`);
    const [, name, labelText, valueText] = m;
    const family = out.types.get(current) === 'histogram' ? name.replace(/_(bucket|sum|count)$/, '') : name;
    assert.equal(family, current, `${name} follows its TYPE line`);
    assert.ok(out.types.has(family), `${name} has a TYPE`);
    const value = valueText === '+Inf' ? Infinity : valueText === '-Inf' ? -Infinity : Number(valueText);
    assert.ok(valueText === 'NaN' || !Number.isNaN(value), `value of ${line}`);
    out.samples.push({ name, labels: labelText ? parseLabels(labelText) : {}, value });
  }
  return out;
}

function parseLabels(text: string): Record<string, string> {
  const labels: Record<string, string> = {};
  let i = 1;
  while (text[i] !== '}') {
    const nm = /^[a-zA-Z_][a-zA-Z0-9_]*/.exec(text.slice(i));
    assert.ok(nm, `label name at ${i} in ${text}`);
    i += nm[0].length;
    assert.equal(text.slice(i, i + 2), '="');
    i += 2;
    let v = '';
    for (;;) {
      const c = text[i++];
      assert.ok(c !== undefined && c !== '\n', 'label value closed');
      if (c === '"') break;
      if (c === '\\') {
        const e = text[i++];
        assert.ok(e === '\\' || e === '"' || e === 'n', `escape \\${e}`);
        v += e === 'n' ? '\n' : e;
      } else {
        v += c;
      }
    }
    assert.ok(!(nm[0] in labels), 'label given once');
    labels[nm[0]] = v;
    if (text[i] === ',') i++;
  }
  assert.equal(i, text.length - 1, 'nothing after the labels');
  return labels;
}

const find = (e: Exposition, name: string, labels: Record<string, string> = {}) =>
  e.samples.find((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));

describe('metrics: Prometheus text format', () => {
  it('escapes label values and HELP text, writes special values', () => {
    assert.equal(escapeLabelValue('a"b\\c\nd'), 'a\\"b\\\\c\\nd');
    assert.equal(escapeHelp('x\\y\nz "q"'), 'x\\\\y\\nz "q"');
    assert.deepEqual([NaN, Infinity, -Infinity, 0, 1.5, 1e21].map(formatValue), ['NaN', '+Inf', '-Inf', '0', '1.5', '1e+21']);
  });

  it('writes each family once, with HELP and TYPE before its samples; refuses bad names', () => {
    const w = new ExpositionWriter();
    w.family('a_total', 'counter', 'A.', [{ labels: { x: '1' }, value: 1 }, { labels: { x: '2' }, value: 2 }]);
    w.family('empty', 'gauge', 'No samples: not written.', []);
    w.single('b', 'gauge', 'B.', 3);
    assert.equal(w.toString(), '# HELP a_total A.\n# TYPE a_total counter\na_total{x="1"} 1\na_total{x="2"} 2\n# HELP b B.\n# TYPE b gauge\nb 3\n');
    assert.throws(() => w.single('b', 'gauge', 'again', 1), /twice/);
    assert.throws(() => w.single('bad-name', 'gauge', '', 1), /invalid metric name/);
    assert.throws(() => w.family('c', 'gauge', '', [{ labels: { 'bad-label': 'x' }, value: 1 }]), /invalid label name/);
    assert.throws(() => w.family('d', 'gauge', '', [{ labels: { __reserved: 'x' }, value: 1 }]), /invalid label name/);
  });

  it('writes a histogram as cumulative buckets ending with +Inf, then its sum and count', () => {
    const h = new LatencyHistogram([0.001, 0.01]);
    for (const s of [0.0005, 0.001, 0.005, 2]) h.observe(s);
    const text = new ExpositionWriter().histogram('fsync_seconds', 'F.', h).toString();
    assert.equal(text, [
      '# HELP fsync_seconds F.', '# TYPE fsync_seconds histogram',
      'fsync_seconds_bucket{le="0.001"} 2', 'fsync_seconds_bucket{le="0.01"} 3', 'fsync_seconds_bucket{le="+Inf"} 4',
      'fsync_seconds_sum 2.0065', 'fsync_seconds_count 4', '',
    ].join('\n'));
    parseExposition(text);
  });
});

describe('metrics: GET /metrics', () => {
  let b: RunningBroker;
  before(async () => (b = await startAdminBroker()));
  after(() => b.close());

  it('serves text format 0.0.4 that parses, with broker, queue, stream, group and process metrics', async () => {
    const weird = 'we"ird\\queue\nname';
    const q = await b.broker.declareQueue(weird);
    await b.broker.bindQueue(weird, 'w.#');
    await b.broker.declareQueue('jobs');
    for (let i = 0; i < 3; i++) await b.broker.publish(createMessage({ topic: 'w.x', payload: Buffer.from('p') }));
    const consumer = q.consume({ prefetch: 1, autoAck: false, creditMode: false }, () => undefined);
    await b.broker.publish(createMessage({ topic: 'unbound', payload: Buffer.from('p') }));
    await b.broker.createStream('events', { partitions: 2 });
    await b.broker.getStream('events')!.appendMessages([createMessage({ topic: 'events', payload: Buffer.from('e'), key: Buffer.from('k') })]);
    const withData = b.broker.getStream('events')!.partitions.find((p) => p.highWatermark > 0)!;
    await b.broker.offsets.commit('readers', [{ stream: 'events', partition: withData.index, offset: 0 }]);

    const r = await call(b, 'GET', '/metrics');
    consumer.close();
    assert.equal(r.status, 200);
    assert.equal(r.headers['content-type'], 'text/plain; version=0.0.4; charset=utf-8');
    const e = parseExposition(r.text);

    assert.equal(find(e, 'junction_queue_messages_ready', { queue: weird })?.value, 2, 'escaped label value round-trips');
    assert.equal(find(e, 'junction_queue_messages_unacked', { queue: weird })?.value, 1);
    assert.equal(find(e, 'junction_queue_consumers', { queue: weird })?.value, 1);
    assert.equal(find(e, 'junction_queue_published_total', { queue: weird })?.value, 3);
    assert.equal(find(e, 'junction_queue_delivered_total', { queue: weird })?.value, 1);
    assert.equal(find(e, 'junction_queue_messages_ready', { queue: 'jobs' })?.value, 0);
    for (const n of ['acked', 'redelivered', 'dropped', 'expired', 'dead_lettered']) {
      assert.equal(e.types.get(`junction_queue_${n}_total`), 'counter', n);
      assert.equal(find(e, `junction_queue_${n}_total`, { queue: 'jobs' })?.value, 0, n);
    }
    assert.equal(find(e, 'junction_unroutable_total')?.value, 1);
    assert.equal(e.types.get('junction_unroutable_total'), 'counter');
    assert.equal(find(e, 'junction_queues')?.value, 2);
    assert.equal(find(e, 'junction_streams')?.value, 1);
    assert.equal(find(e, 'junction_store_pending_bytes')?.value, 0);
    assert.equal(find(e, 'junction_listener_info', { listener: 'http', port: String(b.ports.http) })?.value, 1);
    assert.ok(find(e, 'junction_info')?.labels.version);
    assert.equal(find(e, 'junction_info')?.labels.node, '0');

    const p = String(withData.index);
    assert.equal(find(e, 'junction_stream_partition_high_watermark', { stream: 'events', partition: p })?.value, 1);
    assert.equal(find(e, 'junction_stream_partition_log_start_offset', { stream: 'events', partition: p })?.value, 0);
    assert.ok(find(e, 'junction_stream_partition_size_bytes', { stream: 'events', partition: p })!.value > 0);
    assert.equal(e.samples.filter((s) => s.name === 'junction_stream_partition_high_watermark').length, 2);
    assert.equal(find(e, 'junction_group_lag', { group: 'readers', stream: 'events', partition: p })?.value, 1);
    assert.equal(find(e, 'junction_group_committed_offset', { group: 'readers', stream: 'events', partition: p })?.value, 0);

    for (const name of [
      'process_resident_memory_bytes', 'process_cpu_seconds_total', 'process_start_time_seconds', 'nodejs_heap_size_used_bytes',
      'nodejs_heap_size_total_bytes', 'nodejs_eventloop_lag_mean_seconds', 'nodejs_eventloop_lag_p99_seconds', 'junction_uptime_seconds',
    ]) {
      const s = find(e, name);
      assert.ok(s && s.value >= 0 && Number.isFinite(s.value), name);
      assert.ok(e.help.get(name), `HELP for ${name}`);
    }
    for (const [name, type] of e.types) if (name.endsWith('_total')) assert.equal(type, 'counter', name);
  });

  it('times every fdatasync of a broker with a data directory (junction_fsync_duration_seconds)', async () => {
    const dir = tempDir();
    const d = await startAdminBroker({ dataDir: dir, storage: { fsync: 'always' } });
    try {
      await d.broker.declareQueue('synced', { durable: true });
      await d.broker.publish(createMessage({ topic: 'synced', payload: Buffer.from('p'), durable: true }));
      const e = parseExposition((await call(d, 'GET', '/metrics')).text);
      assert.equal(e.types.get('junction_fsync_duration_seconds'), 'histogram');
      const count = find(e, 'junction_fsync_duration_seconds_count')!.value;
      assert.ok(count >= 1, `fsyncs counted (${count})`);
      assert.equal(find(e, 'junction_fsync_duration_seconds_bucket', { le: '+Inf' })?.value, count);
      assert.ok(find(e, 'junction_fsync_duration_seconds_sum')!.value > 0);
    } finally {
      await d.close();
      removeTempDir(dir);
    }
  });

  it('answers HEAD without a body and refuses other methods', async () => {
    const head = await call(b, 'HEAD', '/metrics');
    assert.equal(head.status, 200);
    assert.equal(head.text, '');
    assert.equal((await call(b, 'POST', '/metrics')).status, 404);
  });
});
