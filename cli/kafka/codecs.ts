/**
 * kafkajs ships gzip only; snappy, lz4 and zstd come from the broker's own codecs
 * (core/stream/compression.ts, the same libraries), so the console tools read batches any
 * producer compressed and write them with --compression-codec.
 */
import type { CompressionTypes } from 'kafkajs';

let registered = false;

export async function registerCodecs(): Promise<void> {
  if (registered) return;
  registered = true;
  const kafkajs = await import('kafkajs');
  const { compress, decompress } = await import('../../core/stream/compression.js');
  // CompressionCodecs is only on the CommonJS default export.
  const codecs = (kafkajs.default as unknown as { CompressionCodecs: unknown }).CompressionCodecs as Record<number, () => { compress(enc: { buffer: Buffer }): Promise<Buffer>; decompress(b: Buffer): Promise<Buffer> }>;
  for (const type of [2, 3, 4] as CompressionTypes[]) {
    codecs[type] = () => ({
      compress: async (encoder: { buffer: Buffer }) => compress(type, encoder.buffer),
      decompress: async (buffer: Buffer) => decompress(type, buffer),
    });
  }
}

/** Kafka's --compression-codec names. */
export const CODEC_NAMES: Record<string, number> = { none: 0, gzip: 1, snappy: 2, lz4: 3, zstd: 4 };
