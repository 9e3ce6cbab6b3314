/** LeaveGroup (API key 13): request and response schemas, field for field as Kafka declares them. */
import { message, f, arr } from '../schema.js';

export const LeaveGroupRequest = message('LeaveGroupRequest', 13, '0-5', '4+', [
  f('groupId', 'string', '0+'),
  f('memberId', 'string', '0-2'),
  arr('members', '3+', [
    f('memberId', 'string', '3+'),
    f('groupInstanceId', 'string', '3+', { nullable: '3+', default: null }),
    f('reason', 'string', '5+', { nullable: '5+', default: null }),
  ]),
]);

export const LeaveGroupResponse = message('LeaveGroupResponse', 13, '0-5', '4+', [
  f('throttleTimeMs', 'int32', '1+'),
  f('errorCode', 'int16', '0+'),
  arr('members', '3+', [
    f('memberId', 'string', '3+'),
    f('groupInstanceId', 'string', '3+', { nullable: '3+' }),
    f('errorCode', 'int16', '3+'),
  ]),
]);
