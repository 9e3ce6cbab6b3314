/** JoinGroup (API key 11): request and response schemas, field for field as Kafka declares them. */
import { message, f, arr } from '../schema.js';

export const JoinGroupRequest = message('JoinGroupRequest', 11, '0-9', '6+', [
  f('groupId', 'string', '0+'),
  f('sessionTimeoutMs', 'int32', '0+'),
  f('rebalanceTimeoutMs', 'int32', '1+', { default: -1 }),
  f('memberId', 'string', '0+'),
  f('groupInstanceId', 'string', '5+', { nullable: '5+', default: null }),
  f('protocolType', 'string', '0+'),
  arr('protocols', '0+', [
    f('name', 'string', '0+'),
    f('metadata', 'bytes', '0+'),
  ]),
  f('reason', 'string', '8+', { nullable: '8+', default: null }),
]);

export const JoinGroupResponse = message('JoinGroupResponse', 11, '0-9', '6+', [
  f('throttleTimeMs', 'int32', '2+'),
  f('errorCode', 'int16', '0+'),
  f('generationId', 'int32', '0+', { default: -1 }),
  f('protocolType', 'string', '7+', { nullable: '7+', default: null }),
  f('protocolName', 'string', '0+', { nullable: '7+' }),
  f('leader', 'string', '0+'),
  f('skipAssignment', 'bool', '9+', { default: false }),
  f('memberId', 'string', '0+'),
  arr('members', '0+', [
    f('memberId', 'string', '0+'),
    f('groupInstanceId', 'string', '5+', { nullable: '5+', default: null }),
    f('metadata', 'bytes', '0+'),
  ]),
]);
