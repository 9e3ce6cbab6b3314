/** ListOffsets (API key 2): request and response schemas, field for field as Kafka declares them. */
import { message, f, arr } from '../schema.js';

export const ListOffsetsRequest = message('ListOffsetsRequest', 2, '0-10', '6+', [
  f('replicaId', 'int32', '0+'),
  f('isolationLevel', 'int8', '2+'),
  arr('topics', '0+', [
    f('name', 'string', '0+'),
    arr('partitions', '0+', [
      f('partitionIndex', 'int32', '0+'),
      f('currentLeaderEpoch', 'int32', '4+', { default: -1 }),
      f('timestamp', 'int64', '0+'),
      f('maxNumOffsets', 'int32', '0', { default: 1 }),
    ]),
  ]),
  f('timeoutMs', 'int32', '10+'),
]);

export const ListOffsetsResponse = message('ListOffsetsResponse', 2, '0-10', '6+', [
  f('throttleTimeMs', 'int32', '2+'),
  arr('topics', '0+', [
    f('name', 'string', '0+'),
    arr('partitions', '0+', [
      f('partitionIndex', 'int32', '0+'),
      f('errorCode', 'int16', '0+'),
      f('oldStyleOffsets', '[]int64', '0'),
      f('timestamp', 'int64', '1+', { default: -1 }),
      f('offset', 'int64', '1+', { default: -1 }),
      f('leaderEpoch', 'int32', '4+', { default: -1 }),
    ]),
  ]),
]);
