/**
 * OffsetCommit: members commit under their generation; a group without members accepts commits
 * from "simple" consumers (generation -1, member ''). Offsets are kept by the core (broker.offsets).
 */
import { notCoordinator } from '../cluster-routing.js';
import { allowed, type Handler } from '../context.js';
import { ErrorCode } from '../protocol/errors.js';

const MAX_METADATA = 4096;

interface CommitPartition { partitionIndex: number; committedOffset: number; committedLeaderEpoch: number; committedMetadata: string | null }

export const handleOffsetCommit: Handler = async (ctx, req) => {
  const { groups, topics, broker } = ctx.services;
  const groupId = req.groupId as string;
  const generationId = ctx.apiVersion >= 1 ? req.generationIdOrMemberEpoch as number : -1;
  const memberId = ctx.apiVersion >= 1 ? req.memberId as string : '';
  const requestTopics = req.topics as Array<{ name: string; partitions: CommitPartition[] }>;
  const groupError = groupId === '' ? ErrorCode.INVALID_GROUP_ID
    : notCoordinator(ctx, groupId) ? ErrorCode.NOT_COORDINATOR : groups.commitError(groupId, memberId, generationId);
  const offsets: Array<{ stream: string; partition: number; offset: number; metadata: string; leaderEpoch: number }> = [];
  const out = requestTopics.map((t) => {
    const stream = topics.get(t.name);
    const mayCommit = allowed(ctx, 'subscribe', t.name);
    return {
      name: t.name,
      partitions: t.partitions.map((p) => {
        let errorCode = groupError;
        if (errorCode === ErrorCode.NONE) {
          if (!mayCommit) errorCode = ErrorCode.TOPIC_AUTHORIZATION_FAILED;
          else if (!stream?.partition(p.partitionIndex)) errorCode = ErrorCode.UNKNOWN_TOPIC_OR_PARTITION;
          else if ((p.committedMetadata?.length ?? 0) > MAX_METADATA) errorCode = ErrorCode.OFFSET_METADATA_TOO_LARGE;
        }
        if (errorCode === ErrorCode.NONE) {
          offsets.push({ stream: t.name, partition: p.partitionIndex, offset: p.committedOffset, metadata: p.committedMetadata ?? '', leaderEpoch: p.committedLeaderEpoch });
        }
        return { partitionIndex: p.partitionIndex, errorCode };
      }),
    };
  });
  if (offsets.length > 0) await broker.offsets.commit(groupId, offsets);
  return { throttleTimeMs: 0, topics: out };
};
