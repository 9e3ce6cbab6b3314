/** ApiVersions (API key 18): request and response schemas, field for field as Kafka declares them. */
import { message, f, arr } from '../schema.js';

export const ApiVersionsRequest = message('ApiVersionsRequest', 18, '0-4', '3+', [
  f('clientSoftwareName', 'string', '3+'),
  f('clientSoftwareVersion', 'string', '3+'),
]);

export const ApiVersionsResponse = message('ApiVersionsResponse', 18, '0-4', '3+', [
  f('errorCode', 'int16', '0+'),
  arr('apiKeys', '0+', [
    f('apiKey', 'int16', '0+'),
    f('minVersion', 'int16', '0+'),
    f('maxVersion', 'int16', '0+'),
  ]),
  f('throttleTimeMs', 'int32', '1+'),
  arr('supportedFeatures', '3+', [
    f('name', 'string', '3+'),
    f('minVersion', 'int16', '3+'),
    f('maxVersion', 'int16', '3+'),
  ], { tagged: '3+', tag: 0 }),
  f('finalizedFeaturesEpoch', 'int64', '3+', { default: -1, tagged: '3+', tag: 1 }),
  arr('finalizedFeatures', '3+', [
    f('name', 'string', '3+'),
    f('maxVersionLevel', 'int16', '3+'),
    f('minVersionLevel', 'int16', '3+'),
  ], { tagged: '3+', tag: 2 }),
  f('zkMigrationReady', 'bool', '3+', { default: false, tagged: '3+', tag: 3 }),
]);
