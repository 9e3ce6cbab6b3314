/** Inputs the fuzzer found, kept as regression tests (each with its input in hex). */
import assert from 'node:assert/strict';
import { FrameReader } from '../../adapters/kafka/frame-reader.js';
import { kafkaTarget } from '../../fuzz/targets/kafka.js';

describe('fuzz regressions', () => {
  it('kafka: a zero-size frame whose size prefix completes with nothing buffered is a frame, not a TypeError', () => {
    // Found by the kafka target: 000000000000000000 split as 3 + rest.
    const r = new FrameReader(1 << 20);
    assert.deepEqual(r.split(Buffer.from('000000', 'hex')), []);
    const frames = r.split(Buffer.from('00', 'hex'));
    assert.equal(frames.length, 1);
    assert.equal(frames[0].length, 0);
    assert.equal(r.pending, 0);
    assert.match(String(kafkaTarget().run(Buffer.from('000000000000000000', 'hex'))), /short/);
  });
});
