/**
 * A current librdkafka (2.12, built from source by the test-only npm package node-rdkafka): it
 * negotiates the flexible versions (Metadata 12 with topic ids, Produce 10, Fetch 16 naming topics by
 * id, ListOffsets 6, OffsetCommit 8, OffsetFetch 8 with batched groups, InitProducerId 4), which no
 * other client here uses. node-rdkafka is not in package.json: `.ci/run` installs it with
 * `npm install --no-save node-rdkafka@3.6.1` after `npm ci`; without it the suite skips with that
 * command, and fails under CI=true (test/support/test-packages.ts); docs/kafka.md says so.
 */
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { requireTestPackage } from '../support/test-packages.js';
import { run, startKafka, type KafkaTestBroker } from './support.js';

const CLIENT = fileURLToPath(new URL('../../../test/kafka/scripts/node-rdkafka-client.cjs', import.meta.url));

describe('kafka: node-rdkafka (current librdkafka)', function () {
  this.timeout(90000);
  let b: KafkaTestBroker;
  before(requireTestPackage('node-rdkafka', '3.6.1'));
  beforeEach(async () => { b = await startKafka(); });
  afterEach(async () => { await b.close(); });

  it(`creates a topic, produces idempotently (lz4) and consumes as a group with the flexible versions`, async () => {
    const r = await run(process.execPath, [CLIENT, b.bootstrap, 'rd', 'rd-group', '20'], undefined, 80000);
    const out = JSON.parse(r.stdout.trim().split('\n').pop() ?? '{}') as { error?: string; errors: string[]; records: Array<[number, number, string, string, string]>; versions: Record<string, number> };
    assert.equal(out.error, undefined, `${out.error}\n${r.stderr.slice(-2000)}`);
    assert.deepEqual(out.errors, []);
    assert.equal(out.records.length, 20);
    assert.ok(out.records.every(([, , key, value, n]) => key === `key-${n}` && value === `value-${n}`));
    assert.equal(b.broker.offsets.list('rd-group').reduce((n, o) => n + o.offset, 0), 20, 'offsets committed for both partitions');
    const batches = [...await b.broker.getStream('rd')!.partition(0)!.read(0, 1 << 20), ...await b.broker.getStream('rd')!.partition(1)!.read(0, 1 << 20)];
    assert.ok(batches.some((x) => (x.readInt16BE(21) & 7) === 3), 'lz4 batches');
    assert.ok(batches.every((x) => x.readBigInt64BE(43) > 0n), 'idempotent producer id');
    for (const [api, min] of [['Metadata', 10], ['Produce', 9], ['Fetch', 13], ['OffsetCommit', 8], ['OffsetFetch', 6], ['InitProducerId', 2], ['ListOffsets', 6]] as const) {
      assert.ok((out.versions[api] ?? -1) >= min, `${api} v${out.versions[api]} (flexible from v${min})`);
    }
  });
});
