/**
 * Up-conversion of the pre-0.11 message sets (magic 0 and 1) that Produce v0-2 carries into one
 * record batch v2, as Kafka did for such producers. Junction advertises Produce from v0 because
 * librdkafka before 2.10 only compresses gzip/snappy/lz4 when the broker's Produce range reaches
 * down to v0 (its compression check asks for Produce v0..0); every client listed in docs/kafka.md
 * still sends v3+ with record batch v2, so this path only serves genuinely old producers.
 *
 * Message (v0/v1): offset int64 | size int32 | crc uint32 (CRC-32 of the rest) | magic int8 |
 * attributes int8 (bits 0-2 codec, bit 3 log-append time) | timestamp int64 (v1) | key bytes | value bytes.
 * A compressed message's value is a nested message set (the wrapper).
 */
import { crc32 } from 'node:zlib';
import { Compression, InvalidBatchError } from '../../core/stream/batch-header.js';
import { decompressSync } from '../../core/stream/compression.js';
import { encodeBatch, type StreamRecord } from '../../core/stream/record-codec.js';

type LegacyRecord = Omit<StreamRecord, 'offset'>;

const MAX_DEPTH = 1;

function readMessages(buf: Buffer, depth: number, out: LegacyRecord[], now: number): number {
  let codecUsed = Compression.None;
  let at = 0;
  while (at + 12 <= buf.length) {
    const size = buf.readInt32BE(at + 8);
    const start = at + 12;
    const end = start + size;
    if (size < 14 || end > buf.length) {
      if (depth === 0 && out.length === 0) throw new InvalidBatchError('truncated message set');
      break; // a partial trailing message, as old clients may send
    }
    const crc = buf.readUInt32BE(start);
    if ((crc32(buf.subarray(start + 4, end)) >>> 0) !== crc) throw new InvalidBatchError('message CRC-32 mismatch');
    const magic = buf.readInt8(start + 4);
    if (magic !== 0 && magic !== 1) throw new InvalidBatchError(`message magic ${magic} in a legacy message set`);
    const attributes = buf.readInt8(start + 5);
    let pos = start + 6;
    let timestamp = now;
    if (magic === 1) {
      timestamp = Number(buf.readBigInt64BE(pos));
      pos += 8;
      if (attributes & 0x08 || timestamp < 0) timestamp = now;
    }
    const readBytes = (): Buffer | null => {
      if (pos + 4 > end) throw new InvalidBatchError('message field runs past its end');
      const len = buf.readInt32BE(pos);
      pos += 4;
      if (len < 0) return null;
      if (pos + len > end) throw new InvalidBatchError('message field runs past its end');
      const v = buf.subarray(pos, pos + len);
      pos += len;
      return v;
    };
    const key = readBytes();
    const value = readBytes();
    const codec = attributes & 0x07;
    if (codec !== Compression.None) {
      if (depth >= MAX_DEPTH || value === null) throw new InvalidBatchError('nested compressed messages');
      const inner = decompressSync(codec, value);
      if (inner === null) throw new InvalidBatchError(`compression type ${codec} is not allowed in legacy message sets`, 'unsupported');
      readMessages(inner, depth + 1, out, now);
      codecUsed = codec;
    } else {
      out.push({ timestamp, key: key ? Buffer.from(key) : null, value: value ? Buffer.from(value) : null, headers: [] });
    }
    at = end;
  }
  return codecUsed;
}

/** Converts a v0/v1 message set into one record batch v2 (compressed again with the producer's codec). */
export function upconvertMessageSet(messageSet: Buffer, now = Date.now()): Buffer {
  const records: LegacyRecord[] = [];
  const codec = readMessages(messageSet, 0, records, now);
  if (records.length === 0) throw new InvalidBatchError('empty message set');
  return encodeBatch(records, { compression: codec });
}
