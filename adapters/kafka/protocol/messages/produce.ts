/** Produce (API key 0): request and response schemas, field for field as Kafka declares them. */
import { message, f, arr, struct } from '../schema.js';

export const ProduceRequest = message('ProduceRequest', 0, '0-11', '9+', [
  f('transactionalId', 'string', '3+', { nullable: '3+', default: null }),
  f('acks', 'int16', '0+'),
  f('timeoutMs', 'int32', '0+'),
  arr('topicData', '0+', [
    f('name', 'string', '0+'),
    arr('partitionData', '0+', [
      f('index', 'int32', '0+'),
      f('records', 'records', '0+', { nullable: '0+' }),
    ]),
  ]),
]);

export const ProduceResponse = message('ProduceResponse', 0, '0-11', '9+', [
  arr('responses', '0+', [
    f('name', 'string', '0+'),
    arr('partitionResponses', '0+', [
      f('index', 'int32', '0+'),
      f('errorCode', 'int16', '0+'),
      f('baseOffset', 'int64', '0+'),
      f('logAppendTimeMs', 'int64', '2+', { default: -1 }),
      f('logStartOffset', 'int64', '5+', { default: -1 }),
      arr('recordErrors', '8+', [
        f('batchIndex', 'int32', '8+'),
        f('batchIndexErrorMessage', 'string', '8+', { nullable: '8+', default: null }),
      ]),
      f('errorMessage', 'string', '8+', { nullable: '8+', default: null }),
      struct('currentLeader', '10+', [
        f('leaderId', 'int32', '10+', { default: -1 }),
        f('leaderEpoch', 'int32', '10+', { default: -1 }),
      ], { tagged: '10+', tag: 0 }),
    ]),
  ]),
  f('throttleTimeMs', 'int32', '1+', { default: 0 }),
  arr('nodeEndpoints', '10+', [
    f('nodeId', 'int32', '10+'),
    f('host', 'string', '10+'),
    f('port', 'int32', '10+'),
    f('rack', 'string', '10+', { nullable: '10+', default: null }),
  ], { tagged: '10+', tag: 0 }),
]);
