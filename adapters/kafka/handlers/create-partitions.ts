/** CreatePartitions: grows a topic's partition count (never shrinks it). */
import { allowed, type Handler } from '../context.js';
import { ErrorCode } from '../protocol/errors.js';
import { TopicError } from '../topics.js';

export const handleCreatePartitions: Handler = async (ctx, req) => {
  const { topics, settings } = ctx.services;
  const results = [];
  for (const t of req.topics as Array<{ name: string; count: number; assignments: Array<{ brokerIds: number[] }> | null }>) {
    const stream = topics.get(t.name);
    const result = { name: t.name, errorCode: ErrorCode.NONE, errorMessage: null as string | null };
    results.push(result);
    const current = stream?.partitions.length ?? 0;
    if (!stream) Object.assign(result, { errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, errorMessage: `topic ${t.name} does not exist` });
    else if (!allowed(ctx, 'admin', t.name)) result.errorCode = ErrorCode.TOPIC_AUTHORIZATION_FAILED;
    else if (t.count <= current) {
      Object.assign(result, { errorCode: ErrorCode.INVALID_PARTITIONS, errorMessage: `topic ${t.name} already has ${current} partitions; the new count must be larger` });
    } else if (t.assignments && (t.assignments.length !== t.count - current || t.assignments.some((a) => a.brokerIds.some((b) => b !== settings.nodeId)))) {
      Object.assign(result, { errorCode: ErrorCode.INVALID_REPLICA_ASSIGNMENT, errorMessage: `assignments must name broker ${settings.nodeId} for each new partition` });
    } else {
      try {
        await topics.addPartitions(t.name, t.count, req.validateOnly as boolean);
      } catch (err) {
        if (!(err instanceof TopicError)) throw err;
        Object.assign(result, { errorCode: err.code, errorMessage: err.message });
      }
    }
  }
  return { throttleTimeMs: 0, results };
};
