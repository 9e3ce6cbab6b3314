/**
 * Records inside a record batch v2, and their mapping to core messages.
 *
 * Core message -> record: key, value = payload, timestamp, headers = the user headers (as UTF-8
 * strings, Buffers as they are) plus `content-type`, `content-encoding`, `correlation-id`,
 * `reply-to` and `message-id` when set. Record -> core message reverses this.
 */
import {
  ATTR_COMPRESSION_MASK, ATTR_CONTROL, BATCH_HEADER_SIZE, BatchHeader, computeBatchCrc, InvalidBatchError,
  LOG_OVERHEAD, readBatchHeader,
} from './batch-header.js';
import { compress, compressSync, decompress, decompressSync } from './compression.js';
import { VarintReader, VarintWriter } from './varint.js';
import { Headers, headerToString, Message } from '../message.js';

export interface RecordHeader { key: string; value: Buffer | null }

export interface StreamRecord {
  offset: number;
  timestamp: number;
  key: Buffer | null;
  value: Buffer | null;
  headers: RecordHeader[];
}

/**
 * Decodes every record of one batch, for any codec (asynchronous because the zstd binding is).
 * Control batches yield no records.
 */
export async function decodeRecordsAsync(batch: Buffer, header: BatchHeader = readBatchHeader(batch)): Promise<StreamRecord[]> {
  if (header.attributes & ATTR_CONTROL) return [];
  const body = await decompress(header.attributes & ATTR_COMPRESSION_MASK, batch.subarray(BATCH_HEADER_SIZE));
  return parseRecords(body, header);
}

/** Decodes every record of one batch synchronously: every codec but zstd (InvalidBatchError; use decodeRecordsAsync). */
export function decodeRecords(batch: Buffer, header: BatchHeader = readBatchHeader(batch)): StreamRecord[] {
  if (header.attributes & ATTR_CONTROL) return [];
  const body = decompressSync(header.attributes & ATTR_COMPRESSION_MASK, batch.subarray(BATCH_HEADER_SIZE));
  if (body === null) throw new InvalidBatchError('this batch can only be decoded asynchronously (zstd)', 'unsupported');
  return parseRecords(body, header);
}

function parseRecords(body: Buffer, header: BatchHeader): StreamRecord[] {
  const r = new VarintReader(body);
  const records: StreamRecord[] = [];
  const logAppend = (header.attributes & 0x08) !== 0;
  try {
    for (let i = 0; i < header.recordCount; i++) {
      const length = r.varint();
      const end = r.pos + length;
      r.int8(); // record attributes, unused
      const timestampDelta = r.varint();
      const offsetDelta = r.varint();
      const key = r.nullableBytes();
      const value = r.nullableBytes();
      const headerCount = r.varint();
      if (headerCount < 0 || headerCount > end - r.pos) throw new InvalidBatchError('record header count is out of range');
      const headers: RecordHeader[] = [];
      for (let h = 0; h < headerCount; h++) {
        const keyLen = r.varint();
        const hk = r.bytes(keyLen).toString('utf8');
        headers.push({ key: hk, value: r.nullableBytes() });
      }
      if (r.pos !== end) throw new InvalidBatchError('record length does not match its fields');
      records.push({
        offset: header.baseOffset + offsetDelta,
        timestamp: logAppend ? header.maxTimestamp : header.baseTimestamp + timestampDelta,
        key, value, headers,
      });
    }
  } catch (err) {
    if (err instanceof InvalidBatchError) throw err;
    throw new InvalidBatchError(`malformed records: ${(err as Error).message}`);
  }
  return records;
}

export interface EncodeOptions {
  compression?: number;
  producerId?: bigint;
  producerEpoch?: number;
  baseSequence?: number;
}

/**
 * Encodes records into one record batch v2 with base offset 0 (the partition assigns the real
 * one). Synchronous for every codec but zstd; use encodeBatchAsync for that.
 */
export function encodeBatch(records: Array<Omit<StreamRecord, 'offset'>>, options: EncodeOptions = {}): Buffer {
  const compression = options.compression ?? 0;
  return assembleBatch(records, compressSync(compression, recordsBody(records)), options);
}

/** encodeBatch for any codec, zstd included. */
export async function encodeBatchAsync(records: Array<Omit<StreamRecord, 'offset'>>, options: EncodeOptions = {}): Promise<Buffer> {
  const compression = options.compression ?? 0;
  return assembleBatch(records, await compress(compression, recordsBody(records)), options);
}

function recordsBody(records: Array<Omit<StreamRecord, 'offset'>>): Buffer {
  if (records.length === 0) throw new RangeError('a batch needs at least one record');
  const baseTimestamp = records[0].timestamp;
  const w = new VarintWriter();
  records.forEach((rec, i) => {
    const body = new VarintWriter();
    body.int8(0).varint(rec.timestamp - baseTimestamp).varint(i).nullableBytes(rec.key).nullableBytes(rec.value);
    body.varint(rec.headers.length);
    for (const h of rec.headers) {
      const k = Buffer.from(h.key, 'utf8');
      body.varint(k.length).bytes(k).nullableBytes(h.value);
    }
    const bytes = body.toBuffer();
    w.varint(bytes.length).bytes(bytes);
  });
  return w.toBuffer();
}

function assembleBatch(records: Array<Omit<StreamRecord, 'offset'>>, recordsBytes: Buffer, options: EncodeOptions): Buffer {
  const compression = options.compression ?? 0;
  const baseTimestamp = records[0].timestamp;
  let maxTimestamp = baseTimestamp;
  for (const rec of records) if (rec.timestamp > maxTimestamp) maxTimestamp = rec.timestamp;
  const batch = Buffer.alloc(BATCH_HEADER_SIZE + recordsBytes.length);
  batch.writeBigInt64BE(0n, 0);
  batch.writeInt32BE(batch.length - LOG_OVERHEAD, 8);
  batch.writeInt32BE(-1, 12);
  batch.writeInt8(2, 16);
  batch.writeInt16BE(compression & ATTR_COMPRESSION_MASK, 21);
  batch.writeInt32BE(records.length - 1, 23);
  batch.writeBigInt64BE(BigInt(baseTimestamp), 27);
  batch.writeBigInt64BE(BigInt(maxTimestamp), 35);
  batch.writeBigInt64BE(options.producerId ?? -1n, 43);
  batch.writeInt16BE(options.producerEpoch ?? -1, 51);
  batch.writeInt32BE(options.baseSequence ?? -1, 53);
  batch.writeInt32BE(records.length, 57);
  recordsBytes.copy(batch, BATCH_HEADER_SIZE);
  batch.writeUInt32BE(computeBatchCrc(batch), 17);
  return batch;
}

const MAPPED_HEADERS = ['content-type', 'content-encoding', 'correlation-id', 'reply-to', 'message-id'] as const;

/** Core message -> record (see the mapping table in docs/mapping.md). */
export function messageToRecord(message: Message): Omit<StreamRecord, 'offset'> {
  const headers: RecordHeader[] = [];
  for (const [k, v] of Object.entries(message.headers)) {
    headers.push({ key: k, value: v === null ? null : Buffer.isBuffer(v) ? v : Buffer.from(headerToString(v), 'utf8') });
  }
  const put = (k: string, v: string | Buffer | undefined) => {
    if (v !== undefined && !(k in message.headers)) headers.push({ key: k, value: Buffer.isBuffer(v) ? v : Buffer.from(v, 'utf8') });
  };
  put('content-type', message.contentType);
  put('content-encoding', message.contentEncoding);
  put('correlation-id', message.correlationId);
  put('reply-to', message.replyTo);
  put('message-id', message.messageId);
  return { timestamp: message.timestamp, key: message.key ?? null, value: message.payload, headers };
}

/** Record -> core message published on `topic` (the stream's name). */
export function recordToMessage(record: StreamRecord, topic: string): Message {
  const headers: Headers = {};
  const message: Message = {
    topic,
    payload: record.value ?? Buffer.alloc(0),
    headers,
    timestamp: record.timestamp,
    durable: true,
    source: 'kafka',
  };
  if (record.key) message.key = record.key;
  for (const h of record.headers) {
    const text = h.value === null ? null : h.value.toString('utf8');
    switch (h.key as (typeof MAPPED_HEADERS)[number]) {
      case 'content-type': if (text !== null) message.contentType = text; continue;
      case 'content-encoding': if (text !== null) message.contentEncoding = text; continue;
      case 'correlation-id': if (text !== null) message.correlationId = text; continue;
      case 'reply-to': if (text !== null) message.replyTo = text; continue;
      case 'message-id': if (text !== null) message.messageId = text; continue;
    }
    if (!(h.key in headers)) headers[h.key] = text;
  }
  return message;
}
