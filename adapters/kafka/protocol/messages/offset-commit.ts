/** OffsetCommit (API key 8): request and response schemas, field for field as Kafka declares them. */
import { message, f, arr } from '../schema.js';

export const OffsetCommitRequest = message('OffsetCommitRequest', 8, '0-9', '8+', [
  f('groupId', 'string', '0+'),
  f('generationIdOrMemberEpoch', 'int32', '1+', { default: -1 }),
  f('memberId', 'string', '1+'),
  f('groupInstanceId', 'string', '7+', { nullable: '7+', default: null }),
  f('retentionTimeMs', 'int64', '2-4', { default: -1 }),
  arr('topics', '0+', [
    f('name', 'string', '0+'),
    arr('partitions', '0+', [
      f('partitionIndex', 'int32', '0+'),
      f('committedOffset', 'int64', '0+'),
      f('committedLeaderEpoch', 'int32', '6+', { default: -1 }),
      f('commitTimestamp', 'int64', '1', { default: -1 }),
      f('committedMetadata', 'string', '0+', { nullable: '0+' }),
    ]),
  ]),
]);

export const OffsetCommitResponse = message('OffsetCommitResponse', 8, '0-9', '8+', [
  f('throttleTimeMs', 'int32', '3+'),
  arr('topics', '0+', [
    f('name', 'string', '0+'),
    arr('partitions', '0+', [
      f('partitionIndex', 'int32', '0+'),
      f('errorCode', 'int16', '0+'),
    ]),
  ]),
]);
