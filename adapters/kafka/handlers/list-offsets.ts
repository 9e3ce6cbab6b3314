/** ListOffsets: earliest (-2), latest (-1) or the first offset at or after a timestamp. */
import { readBatchHeader } from '../../../core/stream/batch-header.js';
import type { StreamPartition } from '../../../core/stream/partition.js';
import { decodeRecordsAsync } from '../../../core/stream/record-codec.js';
import { leaderError } from '../cluster-routing.js';
import { allowed, type Handler } from '../context.js';
import { ErrorCode } from '../protocol/errors.js';

const LATEST = -1;
const EARLIEST = -2;

/** The first record with timestamp >= ts: the core finds its batch, the batch's records give the exact offset. */
async function lookup(p: StreamPartition, ts: number): Promise<{ offset: number; timestamp: number }> {
  const batchOffset = await p.offsetForTimestamp(ts);
  if (batchOffset === null || batchOffset >= p.highWatermark) return { offset: -1, timestamp: -1 };
  try {
    const [batch] = await p.read(batchOffset, 1);
    if (batch) {
      for (const rec of await decodeRecordsAsync(batch, readBatchHeader(batch))) {
        if (rec.offset >= batchOffset && rec.timestamp >= ts) return { offset: rec.offset, timestamp: rec.timestamp };
      }
    }
  } catch {
    // An undecodable batch: answer with its start.
  }
  return { offset: batchOffset, timestamp: ts };
}

export const handleListOffsets: Handler = async (ctx, req) => {
  const { topics } = ctx.services;
  const out = [];
  for (const t of req.topics as Array<{ name: string; partitions: Array<{ partitionIndex: number; timestamp: number; maxNumOffsets: number }> }>) {
    const stream = topics.get(t.name);
    const mayRead = allowed(ctx, 'subscribe', t.name);
    const partitions = [];
    for (const rp of t.partitions) {
      const entry = { partitionIndex: rp.partitionIndex, errorCode: ErrorCode.NONE, oldStyleOffsets: [] as number[], timestamp: -1, offset: -1, leaderEpoch: 0 };
      partitions.push(entry);
      const p = stream?.partition(rp.partitionIndex);
      const notLeader = p ? leaderError(ctx, stream!, rp.partitionIndex) : ErrorCode.NONE;
      if (!mayRead) entry.errorCode = ErrorCode.TOPIC_AUTHORIZATION_FAILED;
      else if (!p) entry.errorCode = ErrorCode.UNKNOWN_TOPIC_OR_PARTITION;
      else if (notLeader !== ErrorCode.NONE) entry.errorCode = notLeader;
      else if (rp.timestamp === LATEST) entry.offset = p.highWatermark;
      else if (rp.timestamp === EARLIEST) entry.offset = p.logStartOffset;
      else if (rp.timestamp < 0) entry.errorCode = ErrorCode.UNSUPPORTED_VERSION;
      else Object.assign(entry, await lookup(p, rp.timestamp));
      if (ctx.apiVersion === 0 && entry.offset >= 0) entry.oldStyleOffsets = [entry.offset];
    }
    out.push({ name: t.name, partitions });
  }
  return { throttleTimeMs: 0, topics: out };
};
