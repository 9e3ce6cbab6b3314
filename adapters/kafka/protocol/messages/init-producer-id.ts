/** InitProducerId (API key 22): request and response schemas, field for field as Kafka declares them. */
import { message, f } from '../schema.js';

export const InitProducerIdRequest = message('InitProducerIdRequest', 22, '0-5', '2+', [
  f('transactionalId', 'string', '0+', { nullable: '0+' }),
  f('transactionTimeoutMs', 'int32', '0+'),
  f('producerId', 'int64', '3+', { default: -1 }),
  f('producerEpoch', 'int16', '3+', { default: -1 }),
]);

export const InitProducerIdResponse = message('InitProducerIdResponse', 22, '0-5', '2+', [
  f('throttleTimeMs', 'int32', '0+'),
  f('errorCode', 'int16', '0+'),
  f('producerId', 'int64', '0+', { default: -1 }),
  f('producerEpoch', 'int16', '0+'),
]);
