/** FindCoordinator (API key 10): request and response schemas, field for field as Kafka declares them. */
import { message, f, arr } from '../schema.js';

export const FindCoordinatorRequest = message('FindCoordinatorRequest', 10, '0-6', '3+', [
  f('key', 'string', '0-3'),
  f('keyType', 'int8', '1+', { default: 0 }),
  f('coordinatorKeys', '[]string', '4+'),
]);

export const FindCoordinatorResponse = message('FindCoordinatorResponse', 10, '0-6', '3+', [
  f('throttleTimeMs', 'int32', '1+'),
  f('errorCode', 'int16', '0-3'),
  f('errorMessage', 'string', '1-3', { nullable: '1-3' }),
  f('nodeId', 'int32', '0-3'),
  f('host', 'string', '0-3'),
  f('port', 'int32', '0-3'),
  arr('coordinators', '4+', [
    f('key', 'string', '4+'),
    f('nodeId', 'int32', '4+'),
    f('host', 'string', '4+'),
    f('port', 'int32', '4+'),
    f('errorCode', 'int16', '4+'),
    f('errorMessage', 'string', '4+', { nullable: '4+' }),
  ]),
]);
