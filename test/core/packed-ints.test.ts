/** core/packed-ints.ts: every value reads back as written, whatever its shape, at the bits a shape needs. */
import assert from 'node:assert/strict';
import { PACK_BLOCK, PackedInts } from '../../core/packed-ints.js';

/** A seeded generator, so that a failure repeats. */
function random(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

function roundTrip(values: number[]): PackedInts {
  const p = PackedInts.from(values);
  assert.equal(p.length, values.length);
  for (let i = 0; i < values.length; i++) assert.equal(p.get(i), values[i], `value ${i} of ${values.length}`);
  const copy = new Array<number>(values.length);
  p.copyTo(copy);
  assert.deepEqual(copy, values);
  return p;
}

describe('core/packed-ints', () => {
  it('reads back empty, single and partial-block columns', () => {
    roundTrip([]);
    roundTrip([0]);
    roundTrip([2 ** 32 - 1]);
    roundTrip([5, 3, 5, 3, 5]);
  });

  it('reads back values of every width up to 32 bits, across word boundaries', () => {
    const r = random(1);
    for (let w = 1; w <= 32; w++) {
      const values = Array.from({ length: PACK_BLOCK + 37 }, () => Math.floor(r() * 2 ** w));
      roundTrip(values);
    }
  });

  it('reads back extremes: 0 and 2^32 - 1 side by side, falling and rising lines', () => {
    const values: number[] = [];
    for (let i = 0; i < 3 * PACK_BLOCK; i++) values.push(i % 2 === 0 ? 0 : 2 ** 32 - 1);
    roundTrip(values);
    roundTrip(Array.from({ length: 1000 }, (_, i) => 2 ** 32 - 1 - i * 4_000_000 % (2 ** 32)).map((v) => Math.max(0, v)));
    roundTrip(Array.from({ length: 1000 }, (_, i) => (2 ** 32 - 1) - i));
  });

  it('takes next to no bits for steady and repeated values, and at most 32 a value for noise', () => {
    const n = 65536;
    const steady = roundTrip(Array.from({ length: n }, (_, i) => 1000 + i * 174));
    assert.ok(steady.byteLength / n < 0.2, `steady: ${steady.byteLength / n} bytes a value`);
    const repeated = roundTrip(Array.from({ length: n }, () => 7));
    assert.ok(repeated.byteLength / n < 0.2, `repeated: ${repeated.byteLength / n} bytes a value`);
    const r = random(2);
    // Positions of messages written in a row, with other entries now and then between them.
    let at = 0;
    const jittered = roundTrip(Array.from({ length: n }, () => (at += 174 + (r() < 0.1 ? Math.floor(r() * 40) : 0))));
    assert.ok(jittered.byteLength / n < 1.5, `jittered: ${jittered.byteLength / n} bytes a value`);
    const noise = roundTrip(Array.from({ length: n }, () => Math.floor(r() * 2 ** 32)));
    assert.ok(noise.byteLength / n <= 4.1, `noise: ${noise.byteLength / n} bytes a value`);
  });
});
