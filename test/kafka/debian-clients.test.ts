/**
 * The Debian clients users run: kcat (librdkafka 2.0.2), python3-kafka (kafka-python 2.0.2, the
 * seed documents' client, scripts in test/kafka/python/) and python3-confluent-kafka. Each suite
 * skips with a clear message when its package is missing, except under CI=true.
 */
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { DEBIAN_PYTHON, eventually, requireDebianClient, skipUnlessDebianClient } from '../support/index.js';
import { kafkajs, run, startKafka, type KafkaTestBroker } from './support.js';

const PY = fileURLToPath(new URL('../../../test/kafka/python/', import.meta.url));

async function python(script: string, args: Array<string | number>, timeoutMs = 90000): Promise<Record<string, unknown>> {
  const r = await run(DEBIAN_PYTHON, [PY + script, ...args.map(String)], undefined, timeoutMs);
  assert.equal(r.code, 0, `${script} failed:\n${r.stderr}\n${r.stdout}`);
  return JSON.parse(r.stdout.trim().split('\n').pop()!) as Record<string, unknown>;
}

/** Clients send a batch uncompressed when compressing does not make it smaller: true if any batch used `codec`. */
async function storedWith(b: KafkaTestBroker, topic: string, codec: string): Promise<boolean> {
  const batches = await b.broker.getStream(topic)!.partition(0)!.read(0, 1 << 30);
  return batches.some((batch) => (batch.readInt16BE(21) & 7) === { gzip: 1, snappy: 2, lz4: 3, zstd: 4 }[codec]);
}

async function kcat(args: string[], input?: string, timeoutMs = 60000): Promise<string> {
  const r = await run('kcat', args, input, timeoutMs);
  assert.equal(r.code, 0, `kcat ${args.join(' ')} failed:\n${r.stderr}`);
  return r.stdout;
}

describe('kafka: kcat (librdkafka)', function () {
  this.timeout(120000);
  before(requireDebianClient('kcat', 'kcat'));
  let b: KafkaTestBroker;
  beforeEach(async () => { b = await startKafka(); });
  afterEach(async () => { await b.close(); });

  it('lists metadata, produces keyed records to an explicit partition and consumes them', async () => {
    await b.broker.createStream('kc', { partitions: 2 });
    const md = await kcat(['-b', b.bootstrap, '-L']);
    assert.match(md, /broker 0 at 127\.0\.0\.1:\d+ \(controller\)/);
    assert.match(md, /topic "kc" with 2 partitions/);
    await kcat(['-b', b.bootstrap, '-P', '-t', 'kc', '-p', '1', '-K:'], 'k1:v1\nk2:v2\n');
    const out = await kcat(['-b', b.bootstrap, '-C', '-t', 'kc', '-p', '1', '-o', 'beginning', '-e', '-f', '%p %o %k=%s\\n']);
    assert.equal(out, '1 0 k1=v1\n1 1 k2=v2\n');
    const ts = await kcat(['-b', b.bootstrap, '-C', '-t', 'kc', '-p', '1', '-o', `s@${Date.now() - 60000}`, '-e', '-f', '%o\\n']);
    assert.equal(ts, '0\n1\n', 'offset lookup by timestamp');
  });

  for (const codec of ['gzip', 'snappy', 'lz4', 'zstd']) {
    it(`produces ${codec} batches that are stored as sent and read back by kcat and kafkajs`, async () => {
      const lines = Array.from({ length: 20 }, (_, i) => `${codec} line ${i} ${'x'.repeat(50)}`);
      await kcat(['-b', b.bootstrap, '-P', '-t', `z-${codec}`, '-X', `compression.codec=${codec}`], lines.join('\n') + '\n');
      assert.ok(await storedWith(b, `z-${codec}`, codec), `a batch is stored ${codec}-compressed`);
      const out = await kcat(['-b', b.bootstrap, '-C', '-t', `z-${codec}`, '-o', 'beginning', '-e', '-f', '%s\\n']);
      assert.deepEqual(out.trim().split('\n'), lines);
      const consumer = kafkajs(b.bootstrap).consumer({ groupId: `kj-${codec}`, maxWaitTimeInMs: 100 });
      const got: string[] = [];
      await consumer.connect();
      await consumer.subscribe({ topic: `z-${codec}`, fromBeginning: true });
      await consumer.run({ eachMessage: async ({ message }) => { got.push(message.value!.toString()); } });
      await eventually(() => got.length >= lines.length, { timeout: 30000, what: `${lines.length} records through kafkajs` });
      await consumer.disconnect();
      assert.deepEqual(got, lines);
    });
  }

  // (-o beginning would override the committed offsets in kcat's rebalance callback: auto.offset.reset instead)
  it('consumes as a group (-G), commits, and resumes after the committed offset', async () => {
    await b.broker.createStream('kg', { partitions: 2 });
    await kcat(['-b', b.bootstrap, '-P', '-t', 'kg', '-p', '0'], 'a\nb\n');
    await kcat(['-b', b.bootstrap, '-P', '-t', 'kg', '-p', '1'], 'c\n');
    const first = await kcat(['-b', b.bootstrap, '-G', 'kcat-group', '-X', 'auto.offset.reset=earliest', '-e', '-f', '%p:%s\\n', 'kg']);
    assert.deepEqual(first.trim().split('\n').sort(), ['0:a', '0:b', '1:c']);
    await kcat(['-b', b.bootstrap, '-P', '-t', 'kg', '-p', '1'], 'd\n');
    const second = await kcat(['-b', b.bootstrap, '-G', 'kcat-group', '-X', 'auto.offset.reset=earliest', '-e', '-f', '%p:%s\\n', 'kg']);
    assert.deepEqual(second.trim().split('\n'), ['1:d']);
    assert.deepEqual(b.broker.offsets.list('kcat-group').map((o) => [o.partition, o.offset]).sort(), [[0, 2], [1, 2]]);
  });
});

describe('kafka: kafka-python (the seed scripts)', function () {
  this.timeout(180000);
  before(requireDebianClient('python3-kafka', 'python3:kafka'));
  let b: KafkaTestBroker;
  beforeEach(async () => { b = await startKafka({ kafka: { groupInitialRebalanceDelayMs: 0 } }); });
  afterEach(async () => { await b.close(); });

  it('admin creates, lists and describes; producer acks=-1 with keys and partitions; group consumer with auto-commit; assign()', async () => {
    const admin = await python('seed_admin.py', [b.bootstrap, 'news_tag']);
    assert.deepEqual(admin, {
      duplicate: 'TopicAlreadyExistsError', rf3: 'InvalidReplicationFactorError', topics: ['news_tag'],
      described: [['news_tag', 3, 0]], retention: ['86400000'], partitions_after: 4, groups: [],
    });
    const sent = await python('seed_producer.py', [b.bootstrap, 'news_tag', 12, 4]);
    assert.deepEqual((sent.sent as number[][]).slice(0, 5), [[0, 0], [1, 0], [2, 0], [3, 0], [0, 1]]);

    const consumed = await python('seed_consumer_group.py', [b.bootstrap, 'news_tag', 'test', 6000]);
    const records = consumed.records as Array<[number, number, string, string]>;
    assert.equal(records.length, 12);
    assert.deepEqual(records.find((r) => r[2] === '05-key'), [1, 1, '05-key', '学而不思则罔 5']);
    const again = await python('seed_consumer_group.py', [b.bootstrap, 'news_tag', 'test', 3000]);
    assert.deepEqual(again.records, [], 'the group resumes from its committed offsets');
    const view = await python('groups_admin.py', [b.bootstrap, 'test']);
    assert.deepEqual(view, { state: 'Empty', protocol_type: 'consumer', groups: ['test'], offsets: [['news_tag', 0, 3], ['news_tag', 1, 3], ['news_tag', 2, 3], ['news_tag', 3, 3]] });

    const assigned = await python('seed_assign.py', [b.bootstrap, 'news_tag', 4, 3000]);
    assert.equal((assigned.records as unknown[]).length, 12);
    const withGroup = await python('seed_assign.py', [b.bootstrap, 'news_tag', 4, 3000, 'manual']);
    assert.equal((withGroup.records as unknown[]).length, 12);
    assert.deepEqual(b.broker.offsets.list('manual').map((o) => o.offset), [3, 3, 3, 3], 'assign() + commit() with generation -1');
  });

  it('two group members share the partitions, and the one left takes both when the other leaves', async () => {
    await b.broker.createStream('pg2', { partitions: 2 });
    const admin = kafkajs(b.bootstrap).admin();
    await admin.connect();
    const stableWith = (members: number) => eventually(async () => {
      const g = (await admin.describeGroups(['py-share'])).groups[0];
      return g.state === 'Stable' && g.members.length === members;
    }, { timeout: 30000, what: `group py-share stable with ${members} member(s)` });
    // The members poll for 14 and 6 seconds: the long one outlives the short one by enough for both phases.
    const long = python('group_member.py', [b.bootstrap, 'pg2', 'py-share', 14]);
    await stableWith(1);
    const short = python('group_member.py', [b.bootstrap, 'pg2', 'py-share', 6]);
    await stableWith(2);
    await python('seed_producer.py', [b.bootstrap, 'pg2', 10, 2]);
    const s = await short;
    await stableWith(1);
    await python('seed_producer.py', [b.bootstrap, 'pg2', 10, 2]);
    await admin.disconnect();
    const l = await long;
    const shortAssigned = s.assignments as number[][];
    const longAssigned = l.assignments as number[][];
    assert.deepEqual(shortAssigned.at(-1)!.length, 1, `short member: ${JSON.stringify(shortAssigned)}`);
    assert.ok(longAssigned.some((a) => a.length === 1), `long member shared at some point: ${JSON.stringify(longAssigned)}`);
    assert.deepEqual(longAssigned.at(-1), [0, 1], 'the remaining member owns both partitions');
    const all = [...(s.records as unknown[][]), ...(l.records as unknown[][])].map((r) => `${r[0]}:${r[1]}`);
    assert.equal(new Set(all).size, 20, 'every record consumed once between them');
  });

  it('auto-creates the topic a producer writes to (seed 000: no key, bytes value)', async () => {
    const sent = await python('seed_producer.py', [b.bootstrap, 'hello', 2, 1]);
    assert.deepEqual(sent.sent, [[0, 0], [0, 1]]);
    assert.equal(b.broker.getStream('hello')!.partitions.length, 1);
  });

  for (const codec of ['gzip', 'snappy', 'lz4', 'zstd']) {
    const module = { gzip: 'zlib', snappy: 'snappy', lz4: 'lz4', zstd: 'zstandard' }[codec]!;
    it(`produces ${codec} (${codec === 'snappy' ? 'xerial framing' : 'standard'}) read back by kafkajs and by the core`, async function () {
      skipUnlessDebianClient(this, `python3-${module}`, `python3:${module}`);
      await python('seed_producer.py', [b.bootstrap, `py-${codec}`, 5, 1, codec, 200]);
      assert.ok(await storedWith(b, `py-${codec}`, codec), `a batch is stored ${codec}-compressed`);
      const consumer = kafkajs(b.bootstrap).consumer({ groupId: `py-${codec}`, maxWaitTimeInMs: 100 });
      const got: string[] = [];
      await consumer.connect();
      await consumer.subscribe({ topic: `py-${codec}`, fromBeginning: true });
      await consumer.run({ eachMessage: async ({ message }) => { got.push(`${message.key}=${message.value}`); } });
      await eventually(() => got.length >= 5, { timeout: 30000, what: '5 records through kafkajs' });
      await consumer.disconnect();
      assert.equal(got[4], `04-key=学而不思则罔 4 ${'-'.repeat(200)}`);
    });
  }
});

describe('kafka: confluent-kafka (librdkafka)', function () {
  this.timeout(120000);
  before(requireDebianClient('python3-confluent-kafka', 'python3:confluent_kafka'));
  let b: KafkaTestBroker;
  beforeEach(async () => { b = await startKafka(); });
  afterEach(async () => { await b.close(); });

  for (const codec of ['none', 'lz4']) {
    it(`idempotent producer (${codec}), group consumer with commits, admin listings`, async () => {
      const out = await python('confluent_clients.py', [b.bootstrap, `ck-${codec}`, 'ck-group', 30, codec]);
      assert.deepEqual(out.errors, []);
      const records = out.records as Array<[number, number, string, string, string]>;
      assert.equal(records.length, 30);
      assert.ok(records.every(([, , k, v, n]) => k === `k${n}` && v === `v${n}`));
      const perPartition = [0, 1].map((p) => records.filter((r) => r[0] === p).length);
      assert.deepEqual(out.committed, [[0, perPartition[0]], [1, perPartition[1]]]);
      assert.deepEqual(out.groups, ['ck-group']);
      assert.deepEqual(out.topics, [`ck-${codec}`]);
      const [batch] = await b.broker.getStream(`ck-${codec}`)!.partition(0)!.read(0, 1 << 20);
      assert.ok(batch.readBigInt64BE(43) >= 0n, 'idempotent batches carry a producer id');
    });
  }
});
