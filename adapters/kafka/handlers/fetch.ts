/**
 * Fetch: stored record batches served as they are (no re-encoding), from the batch holding the
 * fetch offset, within the partition and response byte limits (the first batch always fits,
 * KIP-74), long-polled up to max_wait_ms until min_bytes are available. No fetch sessions
 * (session id 0) and no transactions (last stable offset = high watermark).
 */
import { leaderError } from '../cluster-routing.js';
import { allowed, type Handler, type RequestContext } from '../context.js';
import { ErrorCode } from '../protocol/errors.js';
import type { Struct } from '../protocol/schema.js';
import type { StreamPartition } from '../../../core/stream/partition.js';

interface FetchPartition { partition: number; fetchOffset: number; partitionMaxBytes: number }
interface FetchTopic { topic: string; topicId: Buffer; partitions: FetchPartition[] }

interface Built {
  responses: Struct[];
  bytes: number;
  /** Partitions to wait on (with the offset each waits past); empty when an error makes waiting pointless. */
  waits: Array<{ p: StreamPartition; offset: number }>;
  hasError: boolean;
}

async function build(ctx: RequestContext, topics: FetchTopic[], maxBytes: number, readCommitted: boolean): Promise<Built> {
  const built: Built = { responses: [], bytes: 0, waits: [], hasError: false };
  for (const t of topics) {
    const name = ctx.apiVersion >= 13 ? ctx.services.topics.nameOfId(t.topicId) ?? '' : t.topic;
    const stream = ctx.services.topics.get(name);
    const mayRead = allowed(ctx, 'subscribe', name);
    const partitions: Struct[] = [];
    for (const fp of t.partitions) {
      const p = stream?.partition(fp.partition);
      const entry: Struct = {
        partitionIndex: fp.partition, errorCode: ErrorCode.NONE, highWatermark: -1, lastStableOffset: -1, logStartOffset: -1,
        abortedTransactions: readCommitted ? [] : null, preferredReadReplica: -1, records: [],
      };
      partitions.push(entry);
      if (!mayRead) entry.errorCode = ErrorCode.TOPIC_AUTHORIZATION_FAILED;
      else if (!p) entry.errorCode = ctx.apiVersion >= 13 && !stream ? ErrorCode.UNKNOWN_TOPIC_ID : ErrorCode.UNKNOWN_TOPIC_OR_PARTITION;
      else entry.errorCode = leaderError(ctx, stream!, fp.partition);
      if (entry.errorCode !== ErrorCode.NONE || !p) {
        built.hasError = true;
        continue;
      }
      const hwm = p.highWatermark;
      entry.highWatermark = hwm;
      entry.lastStableOffset = hwm;
      entry.logStartOffset = p.logStartOffset;
      if (fp.fetchOffset < p.logStartOffset || fp.fetchOffset > hwm) {
        entry.errorCode = ErrorCode.OFFSET_OUT_OF_RANGE;
        built.hasError = true;
        continue;
      }
      built.waits.push({ p, offset: fp.fetchOffset });
      if (fp.fetchOffset === hwm || fp.partitionMaxBytes <= 0) continue;
      const budget = Math.min(fp.partitionMaxBytes, maxBytes - built.bytes);
      if (budget <= 0 && built.bytes > 0) continue;
      const batches = await p.read(fp.fetchOffset, Math.max(budget, 1));
      const chosen: Buffer[] = [];
      let size = 0;
      for (const b of batches) {
        // Whole batches within the budget; the very first batch of the response always goes.
        if (size + b.length > budget && (chosen.length > 0 || built.bytes > 0)) break;
        chosen.push(b);
        size += b.length;
        if (b.length >= 61 && b[16] === 2) ctx.conn.client.messagesOut += b.readInt32BE(57); // record count
      }
      entry.records = chosen;
      built.bytes += size;
    }
    built.responses.push({ topic: name, topicId: t.topicId, partitions });
  }
  return built;
}

export const handleFetch: Handler = async (ctx, req) => {
  const { settings } = ctx.services;
  const topics = req.topics as FetchTopic[];
  const maxBytes = Math.max(req.maxBytes as number, 1);
  const minBytes = req.minBytes as number;
  const readCommitted = (req.isolationLevel as number) === 1;
  const deadline = Date.now() + Math.min(Math.max(req.maxWaitMs as number, 0), settings.maxFetchWaitMs);
  let built = await build(ctx, topics, maxBytes, readCommitted);
  while (!built.hasError && built.bytes < Math.max(minBytes, 1) && built.waits.length > 0 && !ctx.conn.isClosed) {
    const remaining = deadline - Date.now();
    if (remaining <= 0) break;
    // Woken by the deadline or the connection closing (a broker stop closes every connection).
    let timer: NodeJS.Timeout | undefined;
    let cancel = () => undefined as unknown;
    const woken = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, remaining);
      cancel = ctx.conn.whenClosed(resolve);
    });
    await Promise.race([...built.waits.map((w) => w.p.waitForData(Math.max(w.offset, w.p.highWatermark), remaining)), woken]);
    clearTimeout(timer);
    cancel();
    if (ctx.conn.isClosed) return null;
    built = await build(ctx, topics, maxBytes, readCommitted);
  }
  return { throttleTimeMs: 0, errorCode: ErrorCode.NONE, sessionId: 0, responses: built.responses };
};
