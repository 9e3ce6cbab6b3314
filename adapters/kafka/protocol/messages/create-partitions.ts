/** CreatePartitions (API key 37): request and response schemas, field for field as Kafka declares them. */
import { message, f, arr } from '../schema.js';

export const CreatePartitionsRequest = message('CreatePartitionsRequest', 37, '0-3', '2+', [
  arr('topics', '0+', [
    f('name', 'string', '0+'),
    f('count', 'int32', '0+'),
    arr('assignments', '0+', [
      f('brokerIds', '[]int32', '0+'),
    ], { nullable: '0+' }),
  ]),
  f('timeoutMs', 'int32', '0+'),
  f('validateOnly', 'bool', '0+'),
]);

export const CreatePartitionsResponse = message('CreatePartitionsResponse', 37, '0-3', '2+', [
  f('throttleTimeMs', 'int32', '0+'),
  arr('results', '0+', [
    f('name', 'string', '0+'),
    f('errorCode', 'int16', '0+'),
    f('errorMessage', 'string', '0+', { nullable: '0+', default: null }),
  ]),
]);
