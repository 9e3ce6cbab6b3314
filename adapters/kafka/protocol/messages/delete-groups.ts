/** DeleteGroups (API key 42): request and response schemas, field for field as Kafka declares them. */
import { message, f, arr } from '../schema.js';

export const DeleteGroupsRequest = message('DeleteGroupsRequest', 42, '0-2', '2+', [
  f('groupsNames', '[]string', '0+'),
]);

export const DeleteGroupsResponse = message('DeleteGroupsResponse', 42, '0-2', '2+', [
  f('throttleTimeMs', 'int32', '0+'),
  arr('results', '0+', [
    f('groupId', 'string', '0+'),
    f('errorCode', 'int16', '0+'),
  ]),
]);
