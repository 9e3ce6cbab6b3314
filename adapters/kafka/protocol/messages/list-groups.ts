/** ListGroups (API key 16): request and response schemas, field for field as Kafka declares them. */
import { message, f, arr } from '../schema.js';

export const ListGroupsRequest = message('ListGroupsRequest', 16, '0-5', '3+', [
  f('statesFilter', '[]string', '4+'),
  f('typesFilter', '[]string', '5+'),
]);

export const ListGroupsResponse = message('ListGroupsResponse', 16, '0-5', '3+', [
  f('throttleTimeMs', 'int32', '1+'),
  f('errorCode', 'int16', '0+'),
  arr('groups', '0+', [
    f('groupId', 'string', '0+'),
    f('protocolType', 'string', '0+'),
    f('groupState', 'string', '4+'),
    f('groupType', 'string', '5+'),
  ]),
]);
