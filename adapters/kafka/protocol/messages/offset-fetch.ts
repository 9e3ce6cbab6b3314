/** OffsetFetch (API key 9): request and response schemas, field for field as Kafka declares them. */
import { message, f, arr } from '../schema.js';

export const OffsetFetchRequest = message('OffsetFetchRequest', 9, '0-9', '6+', [
  f('groupId', 'string', '0-7'),
  arr('topics', '0-7', [
    f('name', 'string', '0-7'),
    f('partitionIndexes', '[]int32', '0-7'),
  ], { nullable: '2-7' }),
  arr('groups', '8+', [
    f('groupId', 'string', '8+'),
    f('memberId', 'string', '9+', { nullable: '9+', default: null }),
    f('memberEpoch', 'int32', '9+', { default: -1 }),
    arr('topics', '8+', [
      f('name', 'string', '8+'),
      f('partitionIndexes', '[]int32', '8+'),
    ], { nullable: '8+' }),
  ]),
  f('requireStable', 'bool', '7+', { default: false }),
]);

export const OffsetFetchResponse = message('OffsetFetchResponse', 9, '0-9', '6+', [
  f('throttleTimeMs', 'int32', '3+'),
  arr('topics', '0-7', [
    f('name', 'string', '0-7'),
    arr('partitions', '0-7', [
      f('partitionIndex', 'int32', '0-7'),
      f('committedOffset', 'int64', '0-7'),
      f('committedLeaderEpoch', 'int32', '5-7', { default: -1 }),
      f('metadata', 'string', '0-7', { nullable: '0-7' }),
      f('errorCode', 'int16', '0-7'),
    ]),
  ]),
  f('errorCode', 'int16', '2-7', { default: 0 }),
  arr('groups', '8+', [
    f('groupId', 'string', '8+'),
    arr('topics', '8+', [
      f('name', 'string', '8+'),
      arr('partitions', '8+', [
        f('partitionIndex', 'int32', '8+'),
        f('committedOffset', 'int64', '8+'),
        f('committedLeaderEpoch', 'int32', '8+', { default: -1 }),
        f('metadata', 'string', '8+', { nullable: '8+' }),
        f('errorCode', 'int16', '8+'),
      ]),
    ]),
    f('errorCode', 'int16', '8+', { default: 0 }),
  ]),
]);
