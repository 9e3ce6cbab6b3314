/** DeleteTopics (API key 20): request and response schemas, field for field as Kafka declares them. */
import { message, f, arr } from '../schema.js';

export const DeleteTopicsRequest = message('DeleteTopicsRequest', 20, '0-6', '4+', [
  arr('topics', '6+', [
    f('name', 'string', '6+', { nullable: '6+', default: null }),
    f('topicId', 'uuid', '6+'),
  ]),
  f('topicNames', '[]string', '0-5'),
  f('timeoutMs', 'int32', '0+'),
]);

export const DeleteTopicsResponse = message('DeleteTopicsResponse', 20, '0-6', '4+', [
  f('throttleTimeMs', 'int32', '1+'),
  arr('responses', '0+', [
    f('name', 'string', '0+', { nullable: '6+' }),
    f('topicId', 'uuid', '6+'),
    f('errorCode', 'int16', '0+'),
    f('errorMessage', 'string', '5+', { nullable: '5+', default: null }),
  ]),
]);
