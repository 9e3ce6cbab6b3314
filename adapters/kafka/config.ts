/**
 * The Kafka adapter's settings: `kafka:` keys over these defaults, with `streams:` (defaultPartitions,
 * autoCreate) honoured when the kafka section does not say otherwise. Documented in docs/kafka.md.
 */

export interface KafkaSettings {
  /** Host given to clients in Metadata and FindCoordinator; null = the listener's host, or the address the client connected to when that is a wildcard. */
  advertisedHost: string | null;
  /** Port given to clients of the plain listener; null = its bound port. */
  advertisedPort: number | null;
  /** Port given to clients of the TLS listener; null = its bound port. */
  advertisedTlsPort: number | null;
  nodeId: number;
  clusterId: string;
  /** Largest request accepted (Kafka socket.request.max.bytes), at most limits.maxFrameBytes; a bigger frame closes the connection. */
  maxRequestBytes: number;
  /** Largest record batch accepted per partition (Kafka max.message.bytes). */
  maxMessageBytes: number;
  /** Create unknown topics on Metadata requests that allow it (Kafka auto.create.topics.enable). */
  autoCreateTopics: boolean;
  /** Partitions of auto-created topics and of CreateTopics with num_partitions -1 (Kafka num.partitions). */
  defaultPartitions: number;
  /** A connection with no request and no response for this long is closed (Kafka connections.max.idle.ms). */
  idleTimeoutMs: number;
  /** Time for a new connection to complete its first request (and SASL when required), and for a started request to keep arriving. */
  handshakeTimeoutMs: number;
  /** Delay of the first rebalance of an empty group, gathering joins (Kafka group.initial.rebalance.delay.ms). */
  groupInitialRebalanceDelayMs: number;
  groupMinSessionTimeoutMs: number;
  groupMaxSessionTimeoutMs: number;
  /** Longest Fetch long poll honoured (clients ask for 500 ms to 5 s). */
  maxFetchWaitMs: number;
  /** SASL mechanisms offered. */
  saslMechanisms: string[];
}

export const DEFAULT_KAFKA_SETTINGS: KafkaSettings = {
  advertisedHost: null,
  advertisedPort: null,
  advertisedTlsPort: null,
  nodeId: 0,
  clusterId: 'junction-cluster',
  maxRequestBytes: 100 * 1024 * 1024,
  maxMessageBytes: 1048588,
  autoCreateTopics: true,
  defaultPartitions: 1,
  idleTimeoutMs: 600000,
  handshakeTimeoutMs: 10000,
  groupInitialRebalanceDelayMs: 3000,
  groupMinSessionTimeoutMs: 6000,
  groupMaxSessionTimeoutMs: 1800000,
  maxFetchWaitMs: 30000,
  saslMechanisms: ['PLAIN', 'SCRAM-SHA-256', 'SCRAM-SHA-512'],
};

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function resolveKafkaSettings(config: any): KafkaSettings {
  const kafka = (config?.kafka ?? {}) as Record<string, unknown>;
  const streams = (config?.streams ?? {}) as Record<string, unknown>;
  const limits = (config?.limits ?? {}) as Record<string, unknown>;
  const out: KafkaSettings = { ...DEFAULT_KAFKA_SETTINGS };
  if (typeof streams.defaultPartitions === 'number') out.defaultPartitions = streams.defaultPartitions;
  if (typeof streams.autoCreate === 'boolean') out.autoCreateTopics = streams.autoCreate;
  for (const key of Object.keys(DEFAULT_KAFKA_SETTINGS) as Array<keyof KafkaSettings>) {
    const v = kafka[key];
    if (v === undefined) continue;
    const expected = typeof DEFAULT_KAFKA_SETTINGS[key];
    const ok = key === 'advertisedHost' || key === 'advertisedPort' || key === 'advertisedTlsPort'
      ? v === null || typeof v === (key === 'advertisedHost' ? 'string' : 'number')
      : key === 'saslMechanisms' ? Array.isArray(v) && v.every((m) => typeof m === 'string') : typeof v === expected;
    if (!ok) throw new TypeError(`kafka.${key}: expected ${key === 'saslMechanisms' ? 'a list of strings' : expected}`);
    (out as unknown as Record<string, unknown>)[key] = v;
  }
  if (!Number.isInteger(out.defaultPartitions) || out.defaultPartitions < 1) throw new RangeError('kafka.defaultPartitions: expected a positive integer');
  if (out.maxRequestBytes < 1024) throw new RangeError('kafka.maxRequestBytes: expected at least 1024');
  if (typeof limits.maxFrameBytes === 'number' && limits.maxFrameBytes > 0) out.maxRequestBytes = Math.min(out.maxRequestBytes, limits.maxFrameBytes);
  for (const key of ['idleTimeoutMs', 'handshakeTimeoutMs'] as const) {
    if (!Number.isInteger(out[key]) || out[key] < 1) throw new RangeError(`kafka.${key}: expected a positive integer`);
  }
  return out;
}
