/**
 * Kafka requests of every advertised API and version: frames split by frame-reader.ts, the request
 * header and body read with the schema codec exactly as connection.ts does, and Produce record
 * data through the legacy message-set up-conversion (v0-2) or the record-batch checks and record
 * decoder (v3+; the CRC is fixed up after mutation so the decoder is reached). Expected:
 * ProtocolError, FrameTooLargeError, InvalidBatchError.
 */
import { crc32 } from 'node:zlib';
import { FrameReader, FrameTooLargeError } from '../../adapters/kafka/frame-reader.js';
import { APIS, apiByKey, isFlexibleRequest } from '../../adapters/kafka/protocol/apis.js';
import { codecFor, encode, type FieldDef, type Struct } from '../../adapters/kafka/protocol/schema.js';
import { KafkaReader, KafkaWriter, ProtocolError } from '../../adapters/kafka/protocol/wire.js';
import { upconvertMessageSet } from '../../adapters/kafka/legacy-message-set.js';
import { ATTR_COMPRESSION_MASK, BATCH_HEADER_SIZE, CRC_START, computeBatchCrc, InvalidBatchError, validateBatch } from '../../core/stream/batch-header.js';
import { decodeRecords, encodeBatch } from '../../core/stream/record-codec.js';
import { chunksOf } from '../prng.js';
import { CrashError, errorSignature, type FuzzTarget } from '../target.js';

const BATCH = encodeBatch([
  { timestamp: 1_700_000_000_000, key: Buffer.from('k'), value: Buffer.from('value-1'), headers: [{ key: 'h', value: Buffer.from('v') }] },
  { timestamp: 1_700_000_000_001, key: null, value: Buffer.from('value-2'), headers: [] },
]);

/** One v1 legacy message (offset, size, crc, magic 1, attributes, timestamp, key, value). */
function legacyMessageSet(): Buffer {
  const body = Buffer.alloc(1 + 1 + 8 + 4 + 4 + 5);
  let p = 0;
  body[p++] = 1;
  body[p++] = 0;
  body.writeBigInt64BE(1_700_000_000_000n, p); p += 8;
  body.writeInt32BE(-1, p); p += 4;
  body.writeInt32BE(5, p); p += 4;
  body.write('hello', p);
  const msg = Buffer.alloc(12 + 4 + body.length);
  msg.writeInt32BE(4 + body.length, 8);
  msg.writeUInt32BE(crc32(body) >>> 0, 12);
  body.copy(msg, 16);
  return msg;
}

function sampleValue(type: string, apiKey: number, version: number): unknown {
  switch (type) {
    case 'int8': case 'int16': case 'uint16': case 'int32': case 'uint32': case 'int64': return 1;
    case 'float64': return 1.5;
    case 'bool': return true;
    case 'string': return 'fuzz-topic';
    case 'bytes': return Buffer.from('n,,n=user,r=nonce');
    case 'records': return apiKey === 0 && version < 3 ? legacyMessageSet() : BATCH;
    case 'uuid': return Buffer.alloc(16, 0x11);
    case '[]string': return ['a', 'b'];
    case '[]uuid': return [Buffer.alloc(16, 0x22)];
    default: return [0, 1];
  }
}

function sampleStruct(fields: FieldDef[], apiKey: number, version: number): Struct {
  const out: Struct = {};
  for (const field of fields) {
    if (!field.versions.has(version)) continue;
    if (field.kind === 'array') out[field.name] = [sampleStruct(field.fields, apiKey, version), sampleStruct(field.fields, apiKey, version)];
    else if (field.kind === 'struct') out[field.name] = sampleStruct(field.fields, apiKey, version);
    else out[field.name] = sampleValue(field.type!, apiKey, version);
  }
  return out;
}

/** One size-prefixed request of `api` at `version`, encoded with the project's schema codec. */
export function kafkaRequest(apiKey: number, version: number, correlationId = 1): Buffer {
  const api = apiByKey(apiKey)!;
  const head = new KafkaWriter(64);
  head.int16(apiKey).int16(version).int32(correlationId);
  const clientId = Buffer.from('fuzz-client');
  head.int16(clientId.length);
  const headBuf = Buffer.concat([head.toBuffer(), clientId, isFlexibleRequest(api, version) ? Buffer.from([0]) : Buffer.alloc(0)]);
  const body = encode(api.request, version, sampleStruct(api.request.fields, apiKey, version));
  const size = Buffer.alloc(4);
  size.writeInt32BE(headBuf.length + body.length);
  return Buffer.concat([size, headBuf, body]);
}

export function kafkaSeeds(): Buffer[] {
  const out: Buffer[] = [];
  for (const api of APIS) for (let v = api.min; v <= api.max; v++) out.push(kafkaRequest(api.key, v));
  return out;
}

export const KAFKA_DICTIONARY = [
  Buffer.from([0xff, 0xff]), Buffer.from([0xff, 0xff, 0xff, 0xff]), Buffer.from([0x7f, 0xff, 0xff, 0xff]), Buffer.from([0x00]),
  Buffer.from([0xff, 0xff, 0xff, 0xff, 0x0f]), Buffer.from([0x80, 0x80, 0x80, 0x80, 0x80]), Buffer.from([0, 0, 0, 0, 0, 0, 0, 0]),
];

function checkRecords(records: Buffer, apiVersion: number): string {
  if (apiVersion < 3) {
    upconvertMessageSet(records, 0);
    return 'upconverted';
  }
  if (records.length < BATCH_HEADER_SIZE) return 'short-batch';
  const batch = Buffer.from(records);
  batch.writeUInt32BE(computeBatchCrc(batch), CRC_START - 4);
  const h = validateBatch(batch);
  if ((h.attributes & ATTR_COMPRESSION_MASK) === 0) decodeRecords(batch, h);
  return 'records';
}

/** One request frame, read as connection.ts reads it. */
function readRequest(frame: Buffer): string {
  if (frame.length < 8) return 'short';
  const apiKey = frame.readInt16BE(0);
  const apiVersion = frame.readInt16BE(2);
  const api = apiByKey(apiKey);
  if (!api) return 'unknown-api';
  if (apiVersion < api.min || apiVersion > api.max) return 'unsupported-version';
  const r = new KafkaReader(frame, 8);
  r.string(false);
  if (isFlexibleRequest(api, apiVersion)) r.taggedFields();
  const request = codecFor(api.request, apiVersion).read(r);
  let sig = `${api.name}v${apiVersion}`;
  if (apiKey === 0) {
    for (const t of (request.topicData ?? []) as Struct[]) {
      for (const p of (t.partitionData ?? []) as Struct[]) {
        if (!Buffer.isBuffer(p.records)) continue;
        try {
          sig += `:${checkRecords(p.records, apiVersion)}`;
        } catch (err) {
          if (!(err instanceof InvalidBatchError || err instanceof ProtocolError)) throw new CrashError(err, 'Produce records');
          sig += `:${errorSignature(err)}`;
        }
      }
    }
  }
  return sig;
}

export function kafkaTarget(): FuzzTarget {
  return {
    name: 'kafka',
    dictionary: KAFKA_DICTIONARY,
    seeds: kafkaSeeds,
    run(input: Buffer): string {
      const reader = new FrameReader(1 << 20);
      const seen: string[] = [];
      for (const c of chunksOf(input)) {
        let frames: Buffer[];
        try {
          frames = reader.split(c);
        } catch (err) {
          if (!(err instanceof FrameTooLargeError)) throw new CrashError(err, 'FrameReader');
          seen.push('too-large');
          break;
        }
        for (const frame of frames) {
          try {
            seen.push(readRequest(frame));
          } catch (err) {
            if (err instanceof CrashError || !(err instanceof ProtocolError)) throw err instanceof CrashError ? err : new CrashError(err, 'Kafka request decode');
            seen.push(errorSignature(err));
          }
        }
      }
      return seen.slice(0, 4).join(',');
    },
  };
}
