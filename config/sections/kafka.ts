/** `kafka:` section. The Kafka wire adapter adds its keys here (interface and schema), in default.yaml and docs. */
import { listenerSchema, nullableString, portSchema, type ListenerSection } from './common.js';

export interface KafkaConfig extends ListenerSection {
  /** Kafka over TLS (SSL / SASL_SSL): opened whenever the kafka listener has a certificate. */
  tlsPort: number;
  /** Host name given to clients in Metadata responses; null = the listener's host (or the address the client used). */
  advertisedHost: string | null;
  /** Port given to clients in Metadata responses; null = the bound port. */
  advertisedPort: number | null;
  [key: string]: unknown;
}

export const kafkaSchema = listenerSchema(
  {
    tlsPort: portSchema,
    advertisedHost: nullableString,
    advertisedPort: {
      type: ['integer', 'null'],
      minimum: 1,
      maximum: 65535,
      'x-hint': 'an integer from 1 to 65535, or null for the bound port',
    },
  },
  true,
);
