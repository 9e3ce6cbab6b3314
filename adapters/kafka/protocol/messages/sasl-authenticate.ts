/** SaslAuthenticate (API key 36): request and response schemas, field for field as Kafka declares them. */
import { message, f } from '../schema.js';

export const SaslAuthenticateRequest = message('SaslAuthenticateRequest', 36, '0-2', '2+', [
  f('authBytes', 'bytes', '0+'),
]);

export const SaslAuthenticateResponse = message('SaslAuthenticateResponse', 36, '0-2', '2+', [
  f('errorCode', 'int16', '0+'),
  f('errorMessage', 'string', '0+', { nullable: '0+' }),
  f('authBytes', 'bytes', '0+'),
  f('sessionLifetimeMs', 'int64', '1+', { default: 0 }),
]);
