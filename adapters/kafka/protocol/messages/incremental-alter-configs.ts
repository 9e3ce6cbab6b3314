/** IncrementalAlterConfigs (API key 44): request and response schemas, field for field as Kafka declares them. */
import { message, f, arr } from '../schema.js';

export const IncrementalAlterConfigsRequest = message('IncrementalAlterConfigsRequest', 44, '0-1', '1+', [
  arr('resources', '0+', [
    f('resourceType', 'int8', '0+'),
    f('resourceName', 'string', '0+'),
    arr('configs', '0+', [
      f('name', 'string', '0+'),
      f('configOperation', 'int8', '0+'),
      f('value', 'string', '0+', { nullable: '0+' }),
    ]),
  ]),
  f('validateOnly', 'bool', '0+'),
]);

export const IncrementalAlterConfigsResponse = message('IncrementalAlterConfigsResponse', 44, '0-1', '1+', [
  f('throttleTimeMs', 'int32', '0+'),
  arr('responses', '0+', [
    f('errorCode', 'int16', '0+'),
    f('errorMessage', 'string', '0+', { nullable: '0+' }),
    f('resourceType', 'int8', '0+'),
    f('resourceName', 'string', '0+'),
  ]),
]);
