/**
 * A current librdkafka (2.12, built from source by the optional npm dependency node-rdkafka): it
 * negotiates the flexible versions (Metadata 12 with topic ids, Produce 10, Fetch 16 naming topics by
 * id, ListOffsets 6, OffsetCommit 8, OffsetFetch 8 with batched groups, InitProducerId 4), which no
 * other client here uses. The suite
 * skips with a message when node-rdkafka could not be built (it is optional, so a failed native build
 * does not fail `npm ci`); docs/kafka.md says so.
 */
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { run, startKafka, type KafkaTestBroker } from './support.js';

const CLIENT = fileURLToPath(new URL('../../../test/kafka/scripts/node-rdkafka-client.cjs', import.meta.url));

function nodeRdkafkaVersion(): string | null {
  try {
    return (createRequire(import.meta.url)('node-rdkafka') as { librdkafkaVersion: string }).librdkafkaVersion;
  } catch {
    return null;
  }
}

describe('kafka: node-rdkafka (current librdkafka)', function () {
  this.timeout(90000);
  let b: KafkaTestBroker;
  before(function () {
    if (!nodeRdkafkaVersion()) {
      process.stderr.write('  skipped: node-rdkafka is not built (optional dependency; npm install builds librdkafka from source with make, gcc and python3)\n');
      this.skip();
    }
  });
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
