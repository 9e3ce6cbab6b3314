/** AlterConfigs (API key 33): request and response schemas, field for field as Kafka declares them. */
import { message, f, arr } from '../schema.js';

export const AlterConfigsRequest = message('AlterConfigsRequest', 33, '0-2', '2+', [
  arr('resources', '0+', [
    f('resourceType', 'int8', '0+'),
    f('resourceName', 'string', '0+'),
    arr('configs', '0+', [
      f('name', 'string', '0+'),
      f('value', 'string', '0+', { nullable: '0+' }),
    ]),
  ]),
  f('validateOnly', 'bool', '0+'),
]);

export const AlterConfigsResponse = message('AlterConfigsResponse', 33, '0-2', '2+', [
  f('throttleTimeMs', 'int32', '0+'),
  arr('responses', '0+', [
    f('errorCode', 'int16', '0+'),
    f('errorMessage', 'string', '0+', { nullable: '0+' }),
    f('resourceType', 'int8', '0+'),
    f('resourceName', 'string', '0+'),
  ]),
]);
