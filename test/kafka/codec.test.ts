/** The generic codec: every advertised version of every API round-trips; known byte layouts; primitives. */
import assert from 'node:assert/strict';
import { APIS } from '../../adapters/kafka/protocol/apis.js';
import { arr, codecFor, decode, encode, f, message, type FieldDef, type MessageSchema, type Struct } from '../../adapters/kafka/protocol/schema.js';
import { KafkaReader, KafkaWriter, ProtocolError } from '../../adapters/kafka/protocol/wire.js';
import { ApiVersionsRequest, ApiVersionsResponse } from '../../adapters/kafka/protocol/messages/api-versions.js';
import { MetadataRequest } from '../../adapters/kafka/protocol/messages/metadata.js';
import { FrameReader, FrameTooLargeError } from '../../adapters/kafka/frame-reader.js';

/** A value for every field present at `version`, non-default where possible (so tagged fields are written). */
function sample(fields: FieldDef[], version: number, flexible: boolean, seed: number): Struct {
  const out: Struct = {};
  for (const field of fields) {
    if (!field.versions.has(version)) continue;
    const nullable = field.nullable?.has(version) ?? false;
    const s = seed + field.name.length;
    if (field.kind === 'array') out[field.name] = nullable && s % 5 === 0 ? null : [sample(field.fields, version, flexible, s + 1), sample(field.fields, version, flexible, s + 2)];
    else if (field.kind === 'struct') out[field.name] = sample(field.fields, version, flexible, s + 3);
    else out[field.name] = primitive(field.type!, nullable, s);
  }
  return out;
}

function primitive(type: string, nullable: boolean, s: number): unknown {
  switch (type) {
    case 'int8': return (s % 100) + 1;
    case 'int16': return 300 + s;
    case 'uint16': return 65000;
    case 'int32': return 70000 + s;
    case 'uint32': return 4000000000;
    case 'int64': return 2 ** 40 + s;
    case 'float64': return 1.5;
    case 'bool': return true;
    case 'string': return nullable && s % 3 === 0 ? null : `s${s}-é`;
    case 'bytes': case 'records': return nullable && s % 4 === 0 ? null : Buffer.from(`bytes-${s}`);
    case 'uuid': return Buffer.alloc(16, s);
    case '[]int32': return [1, 2, s];
    case '[]int64': return [2 ** 35, s];
    case '[]string': return ['a', `b${s}`];
    case '[]int16': return [1, 2];
    case '[]int8': return [1];
    case '[]uuid': return [Buffer.alloc(16, 1)];
    default: throw new Error(type);
  }
}

function pick(value: unknown, fields: FieldDef[], version: number): unknown {
  if (value === null || typeof value !== 'object' || Buffer.isBuffer(value)) return value;
  const o: Struct = {};
  for (const field of fields) {
    if (!field.versions.has(version)) continue;
    const v = (value as Struct)[field.name];
    if (field.kind === 'array') o[field.name] = v === null ? null : (v as Struct[]).map((x) => pick(x, field.fields, version));
    else if (field.kind === 'struct') o[field.name] = pick(v, field.fields, version);
    else o[field.name] = v;
  }
  return o;
}

function roundTrip(schema: MessageSchema, version: number): void {
  const value = sample(schema.fields, version, schema.flexible.has(version), version);
  const bytes = encode(schema, version, value);
  const back = decode(schema, version, bytes);
  assert.deepEqual(pick(back, schema.fields, version), pick(value, schema.fields, version), `${schema.name} v${version}`);
  assert.deepEqual(encode(schema, version, back), bytes, `${schema.name} v${version} re-encodes identically`);
}

describe('kafka: schemas and the generic codec', () => {
  for (const api of APIS) {
    it(`${api.name} requests and responses round-trip at v${api.min}-${api.max}`, () => {
      for (let v = api.min; v <= api.max; v++) {
        roundTrip(api.request, v);
        roundTrip(api.response, v);
      }
    });
  }

  it('ApiVersions v0 response has the legacy layout; v3 is compact with tagged fields', () => {
    const body = { errorCode: 0, apiKeys: [{ apiKey: 18, minVersion: 0, maxVersion: 3 }], throttleTimeMs: 0 };
    assert.deepEqual(encode(ApiVersionsResponse, 0, body), Buffer.from('0000' + '00000001' + '0012' + '0000' + '0003', 'hex'));
    assert.deepEqual(encode(ApiVersionsResponse, 3, body), Buffer.from('0000' + '02' + '0012' + '0000' + '0003' + '00' + '00000000' + '00', 'hex'));
    const v3req = Buffer.from('0b' + Buffer.from('librdkafka').toString('hex') + '06' + Buffer.from('2.0.2').toString('hex') + '00', 'hex');
    assert.deepEqual(decode(ApiVersionsRequest, 3, v3req), { clientSoftwareName: 'librdkafka', clientSoftwareVersion: '2.0.2' });
  });

  it('Metadata v0 has a non-nullable topic array; v1+ null means all topics; v4 defaults allow_auto_topic_creation', () => {
    assert.deepEqual(decode(MetadataRequest, 0, Buffer.from('00000000', 'hex')).topics, []);
    assert.equal(decode(MetadataRequest, 1, Buffer.from('ffffffff', 'hex')).topics, null);
    assert.equal(decode(MetadataRequest, 1, Buffer.from('ffffffff', 'hex')).allowAutoTopicCreation, true);
    assert.throws(() => decode(MetadataRequest, 0, Buffer.from('ffffffff', 'hex')), ProtocolError);
  });

  it('skips unknown tagged fields and reads known ones', () => {
    const schema = message('T', 99, '0-1', '1+', [f('a', 'int32'), f('t', 'string', '1+', { tagged: '1+', tag: 3, nullable: '1+', default: null })]);
    // a=1, then 2 tags: tag 1 (unknown, 2 bytes), tag 3 (compact string "hi")
    const bytes = Buffer.from('00000001' + '02' + '01' + '02' + 'abcd' + '03' + '03' + '036869', 'hex');
    assert.deepEqual(decode(schema, 1, bytes), { a: 1, t: 'hi' });
    assert.deepEqual(encode(schema, 1, { a: 1, t: null }), Buffer.from('0000000100', 'hex'));
  });

  it('refuses counts that cannot fit and truncated input', () => {
    const schema = message('T', 99, '0', 'none', [arr('xs', '0+', [f('x', 'int32')])]);
    assert.throws(() => decode(schema, 0, Buffer.from('7fffffff', 'hex')), /does not fit/);
    assert.throws(() => decode(schema, 0, Buffer.from('0000000100', 'hex')), ProtocolError);
    assert.throws(() => codecFor(schema, 3), /no version 3/);
  });

  it('reads and writes varints, int64 and compact nulls', () => {
    const w = new KafkaWriter(4);
    w.uvarint(0).uvarint(127).uvarint(128).uvarint(300000).int64(-1).int64(2 ** 53 - 1).string(null, true).bytes(null, false);
    const r = new KafkaReader(w.toBuffer());
    assert.deepEqual([r.uvarint(), r.uvarint(), r.uvarint(), r.uvarint(), r.int64(), r.int64(), r.string(true), r.bytes(false)], [0, 127, 128, 300000, -1, 2 ** 53 - 1, null, null]);
    assert.equal(r.remaining, 0);
  });

  it('splices large buffers into responses without copying them', () => {
    const big = Buffer.alloc(10000, 7);
    const w = new KafkaWriter(16);
    w.int32(1).chunkedBytes([big, big], false).int16(2);
    const chunks = w.toChunks();
    assert.ok(chunks.includes(big));
    const all = Buffer.concat(chunks);
    assert.equal(all.readInt32BE(4), 20000);
    assert.equal(all.readInt16BE(all.length - 2), 2);
  });

  it('frames requests across arbitrary chunk boundaries and refuses oversize frames', () => {
    const reader = new FrameReader(100);
    const frame = (n: number) => { const b = Buffer.alloc(4 + n, n); b.writeInt32BE(n, 0); return b; };
    const stream = Buffer.concat([frame(3), frame(0), frame(50), frame(7)]);
    const out: Buffer[] = [];
    for (let i = 0; i < stream.length; i += 5) out.push(...reader.split(stream.subarray(i, i + 5)));
    assert.deepEqual(out.map((b) => b.length), [3, 0, 50, 7]);
    assert.ok(out[2].every((x) => x === 50));
    assert.throws(() => new FrameReader(100).split(frame(101)), FrameTooLargeError);
    assert.throws(() => new FrameReader(100).split(Buffer.from('ffffffff', 'hex')), FrameTooLargeError);
  });
});
