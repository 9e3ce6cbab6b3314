/** DescribeGroups (API key 15): request and response schemas, field for field as Kafka declares them. */
import { message, f, arr } from '../schema.js';

export const DescribeGroupsRequest = message('DescribeGroupsRequest', 15, '0-5', '5+', [
  f('groups', '[]string', '0+'),
  f('includeAuthorizedOperations', 'bool', '3+'),
]);

export const DescribeGroupsResponse = message('DescribeGroupsResponse', 15, '0-5', '5+', [
  f('throttleTimeMs', 'int32', '1+'),
  arr('groups', '0+', [
    f('errorCode', 'int16', '0+'),
    f('groupId', 'string', '0+'),
    f('groupState', 'string', '0+'),
    f('protocolType', 'string', '0+'),
    f('protocolData', 'string', '0+'),
    arr('members', '0+', [
      f('memberId', 'string', '0+'),
      f('groupInstanceId', 'string', '4+', { nullable: '4+', default: null }),
      f('clientId', 'string', '0+'),
      f('clientHost', 'string', '0+'),
      f('memberMetadata', 'bytes', '0+'),
      f('memberAssignment', 'bytes', '0+'),
    ]),
    f('authorizedOperations', 'int32', '3+', { default: -2147483648 }),
  ]),
]);
