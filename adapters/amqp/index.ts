/** AMQP 1.0 adapter (rhea engine in server mode). See docs/amqp.md. */
import type { ProtocolAdapter } from '../../core/adapter.js';
import { AmqpAdapter } from './adapter.js';

export { AmqpAdapter } from './adapter.js';
export { amqpSchema, AMQP_DEFAULTS, resolveSettings, type AmqpSettings } from './config.js';
export { decodeAmqpMessage, encodeAmqpMessage } from './amqp-message.js';

export function createAdapter(): ProtocolAdapter {
  return new AmqpAdapter();
}

export default createAdapter;
