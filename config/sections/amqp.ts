/** `amqp:` section. The AMQP 1.0 adapter adds its keys here (interface and schema), in default.yaml and docs. */
import { listenerSchema, portSchema, type ListenerSection } from './common.js';

export interface AmqpConfig extends ListenerSection {
  /** AMQPS port (default 5671), used only when a certificate is configured. */
  tlsPort: number;
  [key: string]: unknown;
}

export const amqpSchema = listenerSchema({ tlsPort: portSchema }, true);
