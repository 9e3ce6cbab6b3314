/** Fetch (API key 1): request and response schemas, field for field as Kafka declares them. */
import { message, f, arr, struct } from '../schema.js';

export const FetchRequest = message('FetchRequest', 1, '0-17', '12+', [
  f('clusterId', 'string', '12+', { nullable: '12+', default: null, tagged: '12+', tag: 0 }),
  f('replicaId', 'int32', '0-14', { default: -1 }),
  struct('replicaState', '15+', [
    f('replicaId', 'int32', '15+', { default: -1 }),
    f('replicaEpoch', 'int64', '15+', { default: -1 }),
  ], { tagged: '15+', tag: 1 }),
  f('maxWaitMs', 'int32', '0+'),
  f('minBytes', 'int32', '0+'),
  f('maxBytes', 'int32', '3+', { default: 2147483647 }),
  f('isolationLevel', 'int8', '4+', { default: 0 }),
  f('sessionId', 'int32', '7+', { default: 0 }),
  f('sessionEpoch', 'int32', '7+', { default: -1 }),
  arr('topics', '0+', [
    f('topic', 'string', '0-12'),
    f('topicId', 'uuid', '13+'),
    arr('partitions', '0+', [
      f('partition', 'int32', '0+'),
      f('currentLeaderEpoch', 'int32', '9+', { default: -1 }),
      f('fetchOffset', 'int64', '0+'),
      f('lastFetchedEpoch', 'int32', '12+', { default: -1 }),
      f('logStartOffset', 'int64', '5+', { default: -1 }),
      f('partitionMaxBytes', 'int32', '0+'),
      f('replicaDirectoryId', 'uuid', '17+', { tagged: '17+', tag: 0 }),
    ]),
  ]),
  arr('forgottenTopicsData', '7+', [
    f('topic', 'string', '7-12'),
    f('topicId', 'uuid', '13+'),
    f('partitions', '[]int32', '7+'),
  ]),
  f('rackId', 'string', '11+', { default: "" }),
]);

export const FetchResponse = message('FetchResponse', 1, '0-17', '12+', [
  f('throttleTimeMs', 'int32', '1+'),
  f('errorCode', 'int16', '7+'),
  f('sessionId', 'int32', '7+', { default: 0 }),
  arr('responses', '0+', [
    f('topic', 'string', '0-12'),
    f('topicId', 'uuid', '13+'),
    arr('partitions', '0+', [
      f('partitionIndex', 'int32', '0+'),
      f('errorCode', 'int16', '0+'),
      f('highWatermark', 'int64', '0+'),
      f('lastStableOffset', 'int64', '4+', { default: -1 }),
      f('logStartOffset', 'int64', '5+', { default: -1 }),
      struct('divergingEpoch', '12+', [
        f('epoch', 'int32', '12+', { default: -1 }),
        f('endOffset', 'int64', '12+', { default: -1 }),
      ], { tagged: '12+', tag: 0 }),
      struct('currentLeader', '12+', [
        f('leaderId', 'int32', '12+', { default: -1 }),
        f('leaderEpoch', 'int32', '12+', { default: -1 }),
      ], { tagged: '12+', tag: 1 }),
      struct('snapshotId', '12+', [
        f('endOffset', 'int64', '0+', { default: -1 }),
        f('epoch', 'int32', '0+', { default: -1 }),
      ], { tagged: '12+', tag: 2 }),
      arr('abortedTransactions', '4+', [
        f('producerId', 'int64', '4+'),
        f('firstOffset', 'int64', '4+'),
      ], { nullable: '4+' }),
      f('preferredReadReplica', 'int32', '11+', { default: -1 }),
      f('records', 'records', '0+', { nullable: '0+' }),
    ]),
  ]),
  arr('nodeEndpoints', '16+', [
    f('nodeId', 'int32', '16+'),
    f('host', 'string', '16+'),
    f('port', 'int32', '16+'),
    f('rack', 'string', '16+', { nullable: '16+', default: null }),
  ], { tagged: '16+', tag: 0 }),
]);
