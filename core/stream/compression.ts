/**
 * Record batch compression codecs (the attribute bits 0-2 of record batch v2). Batches are stored
 * and served compressed as the producer sent them; records are only decompressed when a non-Kafka
 * consumer needs them, and only compressed when the broker itself writes a compressed batch.
 *
 * - gzip: RFC 1952 (zlib streams are accepted too, as kafkajs does).
 * - snappy: raw snappy (librdkafka, kafkajs-snappy) or xerial framing (Java, kafka-python), told
 *   apart by the 8-byte xerial magic; written raw, which every client reads.
 * - lz4: the LZ4 frame format (magic 04 22 4D 18), as Kafka uses for magic >= 1.
 * - zstd: a standard zstd frame. Its binding is asynchronous, so decompress() is too.
 */
import { createRequire } from 'node:module';
import { gzipSync, unzipSync } from 'node:zlib';
import { compress as zstdCompress, decompress as zstdDecompress } from '@mongodb-js/zstd';
import { compressFrameSync, decompressFrameSync } from 'lz4-napi';
import { Compression, InvalidBatchError } from './batch-header.js';

export interface Codec {
  compress(data: Buffer): Buffer | Promise<Buffer>;
  decompress(data: Buffer): Buffer | Promise<Buffer>;
  /** The codec only works asynchronously (its sync variants refuse it). */
  async?: boolean;
}

/** Upper bound on one decompressed batch, so a tiny malicious batch cannot exhaust memory. */
export const MAX_DECOMPRESSED_BYTES = 256 * 1024 * 1024;

const snappy = createRequire(import.meta.url)('snappyjs') as {
  compress(data: Uint8Array): Uint8Array;
  uncompress(data: Uint8Array, maxLength?: number): Uint8Array;
};

const XERIAL_MAGIC = Buffer.from([0x82, 0x53, 0x4e, 0x41, 0x50, 0x50, 0x59, 0x00]);
const XERIAL_HEADER = 16;

function asBuffer(u: Uint8Array): Buffer {
  return Buffer.from(u.buffer, u.byteOffset, u.byteLength);
}

/** Raw snappy, or xerial framing: magic, int32 version, int32 compat, then (int32 length, raw block)*. */
export function snappyDecompress(data: Buffer): Buffer {
  if (data.length < XERIAL_HEADER || !data.subarray(0, 8).equals(XERIAL_MAGIC)) {
    return asBuffer(snappy.uncompress(data, MAX_DECOMPRESSED_BYTES));
  }
  const blocks: Buffer[] = [];
  let total = 0;
  let at = XERIAL_HEADER;
  while (at < data.length) {
    if (at + 4 > data.length) throw new Error('truncated xerial snappy block header');
    const len = data.readInt32BE(at);
    at += 4;
    if (len < 0 || at + len > data.length) throw new Error('truncated xerial snappy block');
    const block = asBuffer(snappy.uncompress(data.subarray(at, at + len), MAX_DECOMPRESSED_BYTES - total));
    blocks.push(block);
    total += block.length;
    at += len;
  }
  return Buffer.concat(blocks, total);
}

const codecs = new Map<number, Codec>([
  [Compression.Gzip, { compress: (d) => gzipSync(d), decompress: (d) => unzipSync(d, { maxOutputLength: MAX_DECOMPRESSED_BYTES }) }],
  [Compression.Snappy, { compress: (d) => asBuffer(snappy.compress(d)), decompress: snappyDecompress }],
  [Compression.Lz4, { compress: (d) => compressFrameSync(d), decompress: (d) => decompressFrameSync(d) }],
  [Compression.Zstd, { compress: (d) => zstdCompress(d, 3), decompress: (d) => zstdDecompress(d), async: true }],
]);

function codecOf(type: number): Codec {
  const codec = codecs.get(type);
  if (!codec) throw new InvalidBatchError(`compression type ${type} is not supported`, 'unsupported');
  return codec;
}

export async function decompress(type: number, data: Buffer): Promise<Buffer> {
  if (type === Compression.None) return data;
  const codec = codecOf(type);
  let out: Buffer;
  try {
    out = await codec.decompress(data);
  } catch (err) {
    throw new InvalidBatchError(`cannot decompress record batch: ${(err as Error).message}`);
  }
  if (out.length > MAX_DECOMPRESSED_BYTES) throw new InvalidBatchError('decompressed record batch is too large');
  return out;
}

/** Synchronous decompression for the codecs that have it (all but zstd); null when it would need to wait. */
export function decompressSync(type: number, data: Buffer): Buffer | null {
  if (type === Compression.None) return data;
  const codec = codecOf(type);
  if (codec.async) return null;
  let out: Buffer;
  try {
    out = codec.decompress(data) as Buffer;
  } catch (err) {
    throw new InvalidBatchError(`cannot decompress record batch: ${(err as Error).message}`);
  }
  if (out.length > MAX_DECOMPRESSED_BYTES) throw new InvalidBatchError('decompressed record batch is too large');
  return out;
}

export async function compress(type: number, data: Buffer): Promise<Buffer> {
  if (type === Compression.None) return data;
  return codecOf(type).compress(data);
}

/** Synchronous compression (every codec but zstd). */
export function compressSync(type: number, data: Buffer): Buffer {
  if (type === Compression.None) return data;
  const codec = codecOf(type);
  if (codec.async) throw new InvalidBatchError(`compression type ${type} can only be written asynchronously`, 'unsupported');
  return codec.compress(data) as Buffer;
}
