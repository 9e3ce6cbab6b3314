/**
 * The Kafka adapter's settings: the JSON Schema of the `kafka:` section (validated with the rest of
 * the configuration by the platform, config/validate.ts), its type derived from the schema, and the
 * keys that default to `streams:` (defaultPartitions, autoCreate) or are capped by `limits:`
 * (maxFrameBytes). Documented in docs/kafka.md.
 */
import type { FromSchema } from '../../config/infer.js';
import { listenerSection, port } from '../../config/sections/common.js';
import { schemaDefaults, sectionSettings } from '../../config/validate.js';

const nullablePort = (description: string) =>
  ({ type: ['integer', 'null'], minimum: 1, maximum: 65535, default: null, description, 'x-hint': 'an integer from 1 to 65535, or null for the bound port' }) as const;

export const kafkaSchema = listenerSection(
  {
    port: port(9092, 'Kafka wire protocol listener (TCP)'),
    tlsPort: port(9093, 'Kafka over TLS (SSL, SASL_SSL), opened only when a certificate is configured'),
  },
  {
    advertisedHost: { type: ['string', 'null'], default: null, description: "host given to clients in Metadata and FindCoordinator; null = the listener's host, or the address the client connected to" },
    advertisedPort: nullablePort('port given to clients of the plain listener; null = its bound port'),
    advertisedTlsPort: nullablePort('port given to clients of the TLS listener; null = its bound port'),
    nodeId: { type: 'integer', minimum: 0, maximum: 2147483647, default: 0, description: 'Kafka broker id of a single node (in a cluster: cluster.nodeId)' },
    clusterId: { type: 'string', minLength: 1, default: 'junction-cluster', description: 'cluster id given in Metadata' },
    maxRequestBytes: { type: 'integer', minimum: 1024, default: 104857600, description: 'largest request (Kafka socket.request.max.bytes), at most limits.maxFrameBytes' },
    maxMessageBytes: { type: 'integer', minimum: 1, default: 1048588, description: 'largest record batch accepted per partition (Kafka max.message.bytes)' },
    autoCreateTopics: { type: ['boolean', 'null'], default: null, description: 'create unknown topics on Produce and on Metadata requests that allow it (Kafka auto.create.topics.enable); null = streams.autoCreate' },
    defaultPartitions: { type: ['integer', 'null'], minimum: 1, maximum: 10000, default: null, description: 'partitions of auto-created topics and of CreateTopics with num_partitions -1; null = streams.defaultPartitions' },
    idleTimeoutMs: { type: 'integer', minimum: 1, default: 600000, description: 'a connection without requests or responses this long is closed (Kafka connections.max.idle.ms)' },
    handshakeTimeoutMs: { type: 'integer', minimum: 1, default: 10000, description: 'time to complete the first request (and SASL where required), to finish a started request, and the TLS handshake' },
    groupInitialRebalanceDelayMs: { type: 'integer', minimum: 0, default: 3000, description: 'delay of the first rebalance of an empty group, gathering joins (Kafka group.initial.rebalance.delay.ms)' },
    groupMinSessionTimeoutMs: { type: 'integer', minimum: 1, default: 6000, description: 'shortest session timeout a consumer may ask for' },
    groupMaxSessionTimeoutMs: { type: 'integer', minimum: 1, default: 1800000, description: 'longest session timeout a consumer may ask for' },
    maxFetchWaitMs: { type: 'integer', minimum: 0, default: 30000, description: 'longest Fetch long poll honoured' },
    saslMechanisms: {
      type: 'array',
      items: { enum: ['PLAIN', 'SCRAM-SHA-256', 'SCRAM-SHA-512'] },
      default: ['PLAIN', 'SCRAM-SHA-256', 'SCRAM-SHA-512'],
      description: 'SASL mechanisms offered',
    },
  },
);

/** The `kafka:` section as configured (after validation: every key present). */
export type KafkaConfig = FromSchema<typeof kafkaSchema>;

/** The settings in force: the section with the `streams:` fallbacks applied and the request size capped. */
export type KafkaSettings = Omit<KafkaConfig, 'autoCreateTopics' | 'defaultPartitions' | 'saslMechanisms'> & {
  autoCreateTopics: boolean;
  defaultPartitions: number;
  saslMechanisms: string[];
};

/** The settings from the whole configuration (ctx.config); a bad value is a ConfigError naming the key. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function resolveKafkaSettings(config: any): KafkaSettings {
  return withFallbacks(sectionSettings<KafkaConfig>(kafkaSchema, 'kafka', config?.kafka), config);
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
function withFallbacks(s: KafkaConfig, config: any): KafkaSettings {
  const streams = config?.streams ?? {};
  const maxFrameBytes = config?.limits?.maxFrameBytes;
  return {
    ...s,
    autoCreateTopics: s.autoCreateTopics ?? (typeof streams.autoCreate === 'boolean' ? streams.autoCreate : true),
    defaultPartitions: s.defaultPartitions ?? (typeof streams.defaultPartitions === 'number' ? streams.defaultPartitions : 1),
    maxRequestBytes: typeof maxFrameBytes === 'number' && maxFrameBytes > 0 ? Math.min(s.maxRequestBytes, maxFrameBytes) : s.maxRequestBytes,
  };
}

/** The settings with nothing configured. */
export const DEFAULT_KAFKA_SETTINGS: KafkaSettings = withFallbacks(schemaDefaults(kafkaSchema), {});
