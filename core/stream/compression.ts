/**
 * Record batch compression codecs. Batches are stored and served compressed as the producer sent
 * them; records are only decompressed when a non-Kafka consumer needs them.
 */
import { gunzipSync, gzipSync } from 'node:zlib';
import { Compression, InvalidBatchError } from './batch-header.js';

export interface Codec {
  compress(data: Buffer): Buffer;
  decompress(data: Buffer): Buffer;
}

const codecs = new Map<number, Codec>([
  [Compression.Gzip, { compress: (d) => gzipSync(d), decompress: (d) => gunzipSync(d) }],
]);

/** Registers a codec (snappy, lz4, zstd live in their own modules and register themselves). */
export function registerCodec(type: number, codec: Codec): void {
  codecs.set(type, codec);
}

export function decompress(type: number, data: Buffer): Buffer {
  if (type === Compression.None) return data;
  const codec = codecs.get(type);
  if (!codec) throw new InvalidBatchError(`compression type ${type} is not supported`, 'unsupported');
  try {
    return codec.decompress(data);
  } catch (err) {
    throw new InvalidBatchError(`cannot decompress record batch: ${(err as Error).message}`);
  }
}

export function compress(type: number, data: Buffer): Buffer {
  if (type === Compression.None) return data;
  const codec = codecs.get(type);
  if (!codec) throw new InvalidBatchError(`compression type ${type} is not supported`, 'unsupported');
  return codec.compress(data);
}
