/**
 * Streams store record batches in the Kafka record batch v2 layout, byte for byte as a Kafka
 * producer sent them (only the base offset, and the max timestamp under log-append time, are set
 * by the broker). Kafka fetches are then served from stored bytes with no re-encoding, and records
 * from other protocols are encoded into the same layout (core/stream/record-codec.ts).
 *
 *   0 baseOffset int64 | 8 batchLength int32 | 12 partitionLeaderEpoch int32 | 16 magic int8 (2)
 *  17 crc uint32 (CRC-32C of bytes 21..end) | 21 attributes int16 | 23 lastOffsetDelta int32
 *  27 baseTimestamp int64 | 35 maxTimestamp int64 | 43 producerId int64 | 51 producerEpoch int16
 *  53 baseSequence int32 | 57 recordCount int32 | 61 records
 */
import { crc32c } from '@node-rs/crc32';

export const BATCH_HEADER_SIZE = 61;
/** Bytes before and including batchLength: a batch is `batchLength + LOG_OVERHEAD` bytes long. */
export const LOG_OVERHEAD = 12;
export const CRC_START = 21;

export const enum Compression { None = 0, Gzip = 1, Snappy = 2, Lz4 = 3, Zstd = 4 }
export const ATTR_COMPRESSION_MASK = 0x07;
export const ATTR_LOG_APPEND_TIME = 0x08;
export const ATTR_TRANSACTIONAL = 0x10;
export const ATTR_CONTROL = 0x20;

export interface BatchHeader {
  baseOffset: number;
  batchLength: number;
  magic: number;
  crc: number;
  attributes: number;
  lastOffsetDelta: number;
  baseTimestamp: number;
  maxTimestamp: number;
  producerId: bigint;
  producerEpoch: number;
  baseSequence: number;
  recordCount: number;
}

export class InvalidBatchError extends Error {
  override readonly name = 'InvalidBatchError';
  /** Kafka-style reason, so the Kafka adapter can pick its error code. */
  constructor(message: string, readonly reason: 'corrupt' | 'unsupported' | 'too-large' = 'corrupt') {
    super(message);
  }
}

export function readBatchHeader(buf: Buffer, at = 0): BatchHeader {
  if (buf.length - at < BATCH_HEADER_SIZE) throw new InvalidBatchError('record batch shorter than its header');
  return {
    baseOffset: Number(buf.readBigInt64BE(at)),
    batchLength: buf.readInt32BE(at + 8),
    magic: buf.readInt8(at + 16),
    crc: buf.readUInt32BE(at + 17),
    attributes: buf.readInt16BE(at + 21),
    lastOffsetDelta: buf.readInt32BE(at + 23),
    baseTimestamp: Number(buf.readBigInt64BE(at + 27)),
    maxTimestamp: Number(buf.readBigInt64BE(at + 35)),
    producerId: buf.readBigInt64BE(at + 43),
    producerEpoch: buf.readInt16BE(at + 51),
    baseSequence: buf.readInt32BE(at + 53),
    recordCount: buf.readInt32BE(at + 57),
  };
}

/** Total length of the batch starting at `at`, or -1 if the buffer does not hold its length field. */
export function batchSizeAt(buf: Buffer, at: number): number {
  if (buf.length - at < LOG_OVERHEAD) return -1;
  return buf.readInt32BE(at + 8) + LOG_OVERHEAD;
}

export function computeBatchCrc(batch: Buffer): number {
  return crc32c(batch.subarray(CRC_START)) >>> 0;
}

/**
 * Checks framing, magic and CRC of one complete batch (exactly `batch.length` bytes) and returns its header.
 * Throws InvalidBatchError on any mismatch.
 */
export function validateBatch(batch: Buffer): BatchHeader {
  const h = readBatchHeader(batch);
  if (h.magic !== 2) throw new InvalidBatchError(`record batch magic ${h.magic} is not supported (only v2)`, 'unsupported');
  if (h.batchLength + LOG_OVERHEAD !== batch.length) throw new InvalidBatchError('record batch length does not match its bytes');
  if (h.recordCount < 0 || h.lastOffsetDelta < 0) throw new InvalidBatchError('record batch has a negative count');
  if (h.recordCount > 0 && h.lastOffsetDelta !== h.recordCount - 1 && (h.attributes & ATTR_COMPRESSION_MASK) === 0) {
    // Compacted batches may have gaps; a producer's batch never does.
    if (h.lastOffsetDelta < h.recordCount - 1) throw new InvalidBatchError('record batch lastOffsetDelta is below its record count');
  }
  if (computeBatchCrc(batch) !== h.crc) throw new InvalidBatchError('record batch CRC-32C mismatch');
  return h;
}

/** Sets the base offset (not covered by the CRC). */
export function setBaseOffset(batch: Buffer, baseOffset: number): void {
  batch.writeBigInt64BE(BigInt(baseOffset), 0);
}

/** Marks the batch as log-append-time stamped with `timestamp`, recomputing the CRC. */
export function setLogAppendTime(batch: Buffer, timestamp: number): void {
  batch.writeInt16BE(batch.readInt16BE(21) | ATTR_LOG_APPEND_TIME, 21);
  batch.writeBigInt64BE(BigInt(timestamp), 35);
  batch.writeUInt32BE(computeBatchCrc(batch), 17);
}
