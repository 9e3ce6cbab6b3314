/**
 * Produce: each partition's record batch (exactly one, magic 2) goes to broker.appendBatch as
 * received; the core checks its CRC-32C, assigns offsets and applies idempotent-producer
 * sequences, and the batch is stored and later served byte for byte. acks=0 gets no response;
 * acks=1 and -1 are answered once the batch is stored as the fsync policy asks.
 */
import { AppendError, type AppendResult } from '../../../core/stream/partition.js';
import { ATTR_CONTROL, ATTR_TRANSACTIONAL, BATCH_HEADER_SIZE, batchSizeAt, Compression, type InvalidBatchError } from '../../../core/stream/batch-header.js';
import { upconvertMessageSet } from '../legacy-message-set.js';
import { leaderError } from '../cluster-routing.js';
import { allowed, principalOf, type Handler, type RequestContext } from '../context.js';
import { TopicError } from '../topics.js';
import { ErrorCode } from '../protocol/errors.js';
import type { Struct } from '../protocol/schema.js';

interface PartitionData { index: number; records: Buffer | null }
interface TopicData { name: string; partitionData: PartitionData[] }

interface PartitionOutcome {
  index: number;
  errorCode: ErrorCode;
  errorMessage: string | null;
  baseOffset: number;
  logAppendTimeMs: number;
  logStartOffset: number;
}

const APPEND_ERRORS: Record<AppendError['code'], ErrorCode> = {
  'out-of-order-sequence': ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER,
  'producer-fenced': ErrorCode.INVALID_PRODUCER_EPOCH,
  corrupt: ErrorCode.CORRUPT_MESSAGE,
  unsupported: ErrorCode.INVALID_RECORD,
};

function failed(index: number, errorCode: ErrorCode, errorMessage: string | null = null): PartitionOutcome {
  return { index, errorCode, errorMessage, baseOffset: -1, logAppendTimeMs: -1, logStartOffset: -1 };
}

/** Checks the framing Kafka requires of a v3+ produce before the core sees the batch. */
function checkBatch(records: Buffer | null, apiVersion: number, limit: number): [ErrorCode, string] | null {
  if (records === null || records.length < BATCH_HEADER_SIZE) return [ErrorCode.CORRUPT_MESSAGE, 'record batch is missing or shorter than its header'];
  const size = batchSizeAt(records, 0);
  if (size > records.length || size < BATCH_HEADER_SIZE) return [ErrorCode.CORRUPT_MESSAGE, 'record batch length does not match the bytes sent'];
  if (size < records.length) return [ErrorCode.INVALID_RECORD, 'a produce request must contain exactly one record batch per partition'];
  if (records[16] !== 2) return [ErrorCode.INVALID_RECORD, `record batch magic ${records[16]} is not supported (only v2)`];
  if (records.length > limit) return [ErrorCode.MESSAGE_TOO_LARGE, `record batch of ${records.length} bytes exceeds max.message.bytes ${limit}`];
  const attributes = records.readInt16BE(21);
  const codec = attributes & 0x07;
  if (codec > Compression.Zstd || (codec === Compression.Zstd && apiVersion < 7)) {
    return [ErrorCode.UNSUPPORTED_COMPRESSION_TYPE, `compression type ${codec} is not supported at produce v${apiVersion}`];
  }
  if (attributes & ATTR_CONTROL) return [ErrorCode.INVALID_RECORD, 'producers may not write control batches'];
  if (attributes & ATTR_TRANSACTIONAL) return [ErrorCode.INVALID_TXN_STATE, 'transactions are not supported'];
  return null;
}

function appendOne(ctx: RequestContext, topic: string, p: PartitionData): { outcome?: PartitionOutcome; result?: AppendResult } {
  const { topics, broker } = ctx.services;
  const stream = topics.get(topic);
  const partition = stream?.partition(p.index);
  if (!stream || !partition) return { outcome: failed(p.index, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION) };
  const notLeader = leaderError(ctx, stream, p.index);
  if (notLeader !== ErrorCode.NONE) return { outcome: failed(p.index, notLeader) };
  if (ctx.apiVersion < 3 && p.records !== null) {
    try {
      p.records = upconvertMessageSet(p.records);
    } catch (err) {
      const e = err as InvalidBatchError;
      return { outcome: failed(p.index, e.reason === 'unsupported' ? ErrorCode.UNSUPPORTED_COMPRESSION_TYPE : ErrorCode.CORRUPT_MESSAGE, e.message) };
    }
  }
  const problem = checkBatch(p.records, ctx.apiVersion, topics.maxMessageBytes(stream));
  if (problem) return { outcome: failed(p.index, problem[0], problem[1]) };
  const batch = p.records!;
  ctx.conn.client.messagesIn += batch.readInt32BE(57); // the batch header's record count
  batch.writeInt32BE(0, 12); // partition leader epoch (not covered by the CRC), as a Kafka leader stamps it
  try {
    return { result: broker.appendBatch(topic, p.index, batch) };
  } catch (err) {
    if (err instanceof AppendError) {
      // In a cluster, a sequence gap may mean another node appended since this leader resynced
      // (a takeover race): resync and let the client retry, unless the state is fresh already.
      if (err.code === 'out-of-order-sequence' && broker.cluster.clustered && Date.now() - partition.resyncedAt > 10_000 && partition.log.fence) {
        partition.log.fence();
        return { outcome: failed(p.index, ErrorCode.NOT_LEADER_OR_FOLLOWER, 'partition state is being resynced') };
      }
      return { outcome: failed(p.index, APPEND_ERRORS[err.code], err.message) };
    }
    if (err instanceof RangeError) return { outcome: failed(p.index, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION) };
    throw err;
  }
}

/** Waits for the batch to be stored; a full queue of another protocol bound to the topic does not fail the Kafka append. */
async function settle(ctx: RequestContext, topic: string, index: number, result: AppendResult, timeoutMs: number): Promise<PartitionOutcome> {
  const logStartOffset = () => ctx.services.topics.get(topic)?.partition(index)?.logStartOffset ?? -1;
  let timer: NodeJS.Timeout | undefined;
  try {
    const timeout = new Promise<'timeout'>((resolve) => { timer = setTimeout(() => resolve('timeout'), Math.max(timeoutMs, 1000)); });
    const outcome = await Promise.race([result.stored.then(() => 'stored' as const), timeout]);
    if (outcome === 'timeout') return failed(index, ErrorCode.REQUEST_TIMED_OUT, 'the batch was not stored within the request timeout');
  } catch (err) {
    if ((err as Error).name === 'NotLeaderError') return failed(index, ErrorCode.NOT_LEADER_OR_FOLLOWER, (err as Error).message);
    if ((err as Error).name !== 'QueueFullError') {
      ctx.services.log.warn({ topic, partition: index, err: (err as Error).message }, 'kafka produce: storing the batch failed');
      return failed(index, ErrorCode.KAFKA_STORAGE_ERROR, (err as Error).message);
    }
  } finally {
    clearTimeout(timer);
  }
  return { index, errorCode: ErrorCode.NONE, errorMessage: null, baseOffset: result.baseOffset, logAppendTimeMs: result.logAppendTime, logStartOffset: logStartOffset() };
}

export const handleProduce: Handler = async (ctx, req) => {
  const acks = req.acks as number;
  const topicData = req.topicData as TopicData[];
  const results: Array<{ name: string; parts: Array<PartitionOutcome | Promise<PartitionOutcome>> }> = [];
  for (const t of topicData) {
    const parts: Array<PartitionOutcome | Promise<PartitionOutcome>> = [];
    results.push({ name: t.name, parts });
    // An unknown topic is created on produce as on Metadata (kafka.autoCreateTopics), whatever the client.
    let notCreated: TopicError | null = null;
    if (!ctx.services.topics.get(t.name) && allowed(ctx, 'publish', t.name) && req.transactionalId === null) {
      try {
        await ctx.services.topics.getOrCreate(t.name, true, 'produce', principalOf(ctx).user);
      } catch (err) {
        if (!(err instanceof TopicError)) throw err;
        notCreated = err;
      }
    }
    for (const p of t.partitionData) {
      if (acks !== 0 && acks !== 1 && acks !== -1) parts.push(failed(p.index, ErrorCode.INVALID_REQUIRED_ACKS));
      else if (notCreated) parts.push(failed(p.index, notCreated.code, notCreated.message));
      else if (req.transactionalId !== null) parts.push(failed(p.index, ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED, 'transactions are not supported'));
      else if (!allowed(ctx, 'publish', t.name)) parts.push(failed(p.index, ErrorCode.TOPIC_AUTHORIZATION_FAILED));
      else {
        const { outcome, result } = appendOne(ctx, t.name, p);
        if (outcome) parts.push(outcome);
        else if (acks === 0) {
          const stored = result!.stored.catch((err: Error) => ctx.services.log.debug({ topic: t.name, err: err.message }, 'kafka produce (acks=0): store failed'));
          ctx.conn.holdWhileStoring(p.records?.length ?? 0, stored);
        }
        else parts.push(settle(ctx, t.name, p.index, result!, req.timeoutMs as number));
      }
    }
  }
  if (acks === 0) {
    // No response, as the client expects none. Like Kafka, a refused batch closes the connection,
    // which makes the client refresh its metadata and notice.
    const refused = results.flatMap((r) => r.parts).filter((p): p is PartitionOutcome => !(p instanceof Promise) && p.errorCode !== ErrorCode.NONE);
    if (refused.length) ctx.conn.closeAfterResponses(`produce with acks=0 refused (error ${refused[0].errorCode}: ${refused[0].errorMessage ?? ''})`);
    return null;
  }
  const responses: Struct[] = [];
  for (const r of results) {
    const partitionResponses = await Promise.all(r.parts);
    responses.push({
      name: r.name,
      partitionResponses: partitionResponses.map((p) => ({
        index: p.index, errorCode: p.errorCode, baseOffset: p.baseOffset, logAppendTimeMs: p.logAppendTimeMs,
        logStartOffset: p.logStartOffset, recordErrors: [], errorMessage: p.errorMessage,
      })),
    });
  }
  return { responses, throttleTimeMs: 0 };
};
