/**
 * The bound walk the FrameGuard runs over each performative (adapters/amqp/value-bounds.ts): what
 * real encoders write passes, and sizes or counts the bytes cannot hold are refused at once.
 */
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import rhea from 'rhea';
import { NEED_MORE, ValueBoundsError, valueEnd } from '../../adapters/amqp/value-bounds.js';
import { frame } from './raw.js';

const require = createRequire(import.meta.url);
const types = require('rhea/lib/types.js') as { Reader: new (b: Buffer) => { read(): unknown } };

const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex');
const walk = (b: Buffer) => valueEnd(b, 0, b.length, b.length);

describe('amqp value bounds', () => {
  it('every performative rhea writes, with termini, filters, properties and arrays, walks to its end', () => {
    const source = rhea.types.wrap_described([
      rhea.types.wrap_string('/queue/q'), rhea.types.wrap_uint(0), null, null, null, null, null,
      rhea.types.wrap_map({ f: rhea.types.wrap_described(rhea.types.wrap_string("a = 'b'"), 0x468c00000004) }),
    ], 0x28);
    const frames = [
      frame('open', { container_id: 'c', max_frame_size: 65536, offered_capabilities: ['A', 'B'], properties: { p: 'v', n: 3 } }),
      frame('begin', { next_outgoing_id: 0, incoming_window: 100, outgoing_window: 100 }),
      frame('attach', { name: 'l', handle: 0, role: true, source, desired_capabilities: ['x', 'y', 'z'] }),
      frame('flow', { next_outgoing_id: 0, incoming_window: 1, outgoing_window: 1, handle: 0, link_credit: 10 }),
      frame('transfer', { handle: 0, delivery_id: 7, delivery_tag: Buffer.from('t') }, 0, Buffer.alloc(100, 1)),
      frame('close', { error: { condition: 'amqp:internal-error', description: 'x' } }),
    ];
    for (const f of frames) {
      const body = f.subarray(8);
      const end = walk(body);
      // The walk ends where rhea's own decoder ends (the transfer's payload follows).
      const r = new types.Reader(body) as unknown as { read(): unknown; position: number };
      r.read();
      assert.equal(end, r.position);
    }
  });

  const refused: Array<[string, string]> = [
    ['array32 of 2^28 nulls in 10 bytes', 'f0 00000005 10000000 40'],
    ['array8 count above its size', 'e0 02 05 40'],
    ['list32 claiming 2^32-1 elements', 'd0 00000004 ffffffff'],
    ['list8 count above its size', 'c0 02 05 45'],
    ['map8 count above its size', 'c1 01 ff'],
    ['list32 size beyond the bytes', 'd0 7fffffff 00000001 45'],
    ['list size below its count field', 'd0 00000002 00000000'],
    ['elements shorter than the size', 'c0 03 01 40 40'],
    ['array of fixed-width elements past its size', 'e0 03 02 70 0000'],
    ['unknown type code', 'ff'],
    ['unknown array element type', 'e0 03 01 ee 00'],
    ['vbin32 size beyond the bytes', 'b0 00001000 00'],
    ['nesting deeper than 32', '00'.repeat(40) + '40'],
  ];
  for (const [name, bytes] of refused) {
    it(`refused: ${name}`, () => {
      assert.throws(() => walk(hex(bytes)), ValueBoundsError);
    });
  }

  it('a value longer than the bytes at hand but within its frame asks for more', () => {
    const b = hex('c0 05 01 a1 02 6869');
    assert.throws(() => valueEnd(b, 0, 4, b.length), (e) => e === NEED_MORE);
    assert.equal(valueEnd(b, 0, b.length, b.length), b.length);
  });
});
