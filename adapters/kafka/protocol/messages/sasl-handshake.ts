/** SaslHandshake (API key 17): request and response schemas, field for field as Kafka declares them. */
import { message, f } from '../schema.js';

export const SaslHandshakeRequest = message('SaslHandshakeRequest', 17, '0-1', 'none', [
  f('mechanism', 'string', '0+'),
]);

export const SaslHandshakeResponse = message('SaslHandshakeResponse', 17, '0-1', 'none', [
  f('errorCode', 'int16', '0+'),
  f('mechanisms', '[]string', '0+'),
]);
