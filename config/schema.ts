/**
 * The configuration's shape (TypeScript) and its JSON Schema (validated with one ajv instance in
 * config/validate.ts). The schema holds every key's default (config/default.yaml lists the same
 * values, checked by test/platform/config-schema.test.ts; docs/configuration.md describes every key).
 * Each protocol adapter contributes its own section's schema (adapters/<protocol>/config.ts), as do
 * the plugins with settings (plugins/http, plugins/cluster, plugins/sys: config.ts); the core's and
 * the platform's own sections (storage, log, limits, auth, tls, queues, streams) are below.
 */
import { amqpSchema, type AmqpConfig } from '../adapters/amqp/config.js';
import { kafkaSchema, type KafkaConfig } from '../adapters/kafka/config.js';
import { mqttSchema, type MqttConfig } from '../adapters/mqtt/config.js';
import { stompSchema, type StompSettings as StompConfig } from '../adapters/stomp/config.js';
import { xmppSchema, type XmppConfig } from '../adapters/xmpp/config.js';
import type { DeclaredStream } from '../core/stream/declared-streams.js';
import type { FromSchema, SameShape } from './infer.js';
import { limitInt, nonNegativeInt, nullableString, positiveInt, tlsSchema, type TlsSettings } from './sections/common.js';
import { clusterSchema, type ClusterConfig } from '../plugins/cluster/config.js';
import { httpSchema, type HttpConfig } from '../plugins/http/config.js';
import { sysSchema, type SysConfig } from '../plugins/sys/config.js';

export type { AmqpConfig, ClusterConfig, HttpConfig, KafkaConfig, MqttConfig, StompConfig, TlsSettings, XmppConfig };

export type FsyncPolicy = 'always' | 'interval' | 'never';
export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
export type AuthAction = 'publish' | 'subscribe' | 'consume' | 'admin';

export interface StorageConfig {
  /** `file`: the embedded store in dataDir; `memory`: nothing is written (tests, demos). */
  engine: 'file' | 'memory';
  fsync: FsyncPolicy;
  /** Period of the background fsync under `fsync: interval`. */
  fsyncIntervalMs: number;
  /** Partition segment files open at once across all partitions; the least recently used idle one is closed. */
  maxOpenFiles: number;
  /** Bytes the data directory may hold (journal and stream partitions); past it, new messages are refused (-1 = up to the free space). */
  maxDiskBytes: number;
  /** Bytes journaled between index snapshots taken while running (bounds what a restart after a crash replays); 0 = only at a clean stop. */
  snapshotEveryBytes: number;
}

export interface LimitsConfig {
  /** Connections per adapter, counted across its plain, TLS and WebSocket listeners. */
  maxConnections: number;
  /** Connections one authenticated user may have open, every protocol together; -1 = no limit. */
  maxConnectionsPerUser: number;
  /** Largest protocol frame / packet / stanza / request accepted by any listener. */
  maxFrameBytes: number;
  maxSubscriptionsPerConnection: number;
  /** Streams (Kafka topics) in the broker; -1 = no limit. */
  maxStreams: number;
  /** Stream partitions in the broker, all streams together; -1 = no limit. */
  maxPartitions: number;
  /** Partitions of one stream; -1 = no limit. */
  maxPartitionsPerTopic: number;
  /** Partitions of the streams one user's clients created, all together; -1 = no limit. */
  maxPartitionsPerUser: number;
  /** Queues in the broker (dead-letter queues count but are always created); -1 = no limit. */
  maxQueues: number;
  /** Durable queues one user's STOMP and AMQP clients created by naming them; -1 = no limit. */
  maxQueuesPerUser: number;
  /** Queued message bodies that cannot page, held in memory across all queues; past it publishers to the largest queues wait; -1 = no bound. */
  outboundMemoryBytes: number;
  /** New connections per client address, every listener together (plugins/listeners/connection-rate.ts). */
  connectionRate: {
    /** Connections per second once the burst is used; 0 = no rate limit. */
    perSecond: number;
    /** Connections an address may open at once. */
    burst: number;
    /** Addresses never rate-limited. */
    exempt: string[];
  };
}

export interface AuthRule {
  /** User name(s) the rule applies to; `*` = everyone; `anonymous` = the anonymous principal. */
  user: string | string[];
  allow?: AuthAction[];
  deny?: AuthAction[];
  /** Core address pattern(s) (`*` one word, `#` zero or more); `{user}` is replaced by the user name. */
  address: string | string[];
}

export interface AuthConfig {
  /** YAML users file (`junction passwd FILE USER` writes entries); null = no configured users. */
  usersFile: string | null;
  /** Anonymous clients allowed. When usersFile is set and this key is not set explicitly, false. */
  allowAnonymous: boolean;
  /**
   * Ordered; first rule matching user, action and address decides. No rules = publish, subscribe
   * and consume allowed; `admin` then only for admin-flagged users (and anonymous when no users are configured).
   */
  rules: AuthRule[];
  /** Failed logins per remote address per minute before its logins are refused for the rest of that minute (0 = no limit). */
  maxFailuresPerMinute?: number;
}

export interface QueuesConfig {
  /** Messages per queue before publishers are slowed/refused (-1 = no limit). */
  maxLength: number;
  /** Payload bytes per queue (-1 = no limit). */
  maxBytes: number;
  /** Deliveries of one message before it goes to the dead-letter queue (-1 = never). */
  maxDeliveries: number;
  /** Dead-letter queue of queue Q is `Q<suffix>`. */
  deadLetterSuffix: string;
  /** Expired messages go to the dead-letter queue instead of being dropped (docs/queues.md). */
  deadLetterOnExpiry: boolean;
  /** Queues deliver higher priority first; false = plain FIFO (docs/queues.md). */
  priorities: boolean;
  /** Bytes of durable queued message bodies kept in memory; past it they stay on disk only (docs/storage.md). */
  memoryBytes: number;
}

export interface StreamsConfig {
  defaultPartitions: number;
  retentionMs: number;
  retentionBytes: number;
  segmentBytes: number;
  /** Default of kafka.autoCreateTopics (Kafka auto.create.topics.enable): unknown topics are created on Produce and on Metadata requests that allow it. */
  autoCreate: boolean;
  /** Streams made to exist at every start (core/stream/declared-streams.ts). */
  declare: DeclaredStream[];
}

export interface JunctionConfig {
  /** Interface every listener binds; "" = all interfaces (IPv6 and IPv4). */
  host: string;
  dataDir: string;
  storage: StorageConfig;
  log: { level: LogLevel; format: 'auto' | 'pretty' | 'json' };
  limits: LimitsConfig;
  cluster: ClusterConfig;
  http: HttpConfig;
  mqtt: MqttConfig;
  amqp: AmqpConfig;
  stomp: StompConfig;
  xmpp: XmppConfig;
  kafka: KafkaConfig;
  /** After validation maxFailuresPerMinute is always there (default 10). */
  auth: AuthConfig & { maxFailuresPerMinute: number };
  /** Global TLS settings; each listener's `tls:` overrides them key by key. */
  tls: Required<TlsSettings>;
  queues: QueuesConfig;
  streams: StreamsConfig;
  /** MQTT `$SYS` topics (plugins/sys). */
  sys: SysConfig;
}

/** The protocol listener sections, in start order. */
export const PROTOCOL_SECTIONS = ['mqtt', 'amqp', 'stomp', 'xmpp', 'kafka'] as const;
export type ProtocolName = (typeof PROTOCOL_SECTIONS)[number];

/** A broker-wide count: positive, or -1 for no limit. */
const countLimit = { type: 'integer', minimum: -1, not: { const: 0 }, 'x-hint': 'a positive integer, or -1 for no limit' } as const;

const actionList = {
  type: 'array',
  items: { enum: ['publish', 'subscribe', 'consume', 'admin'], 'x-hint': 'one of publish, subscribe, consume, admin' },
  'x-hint': 'a list of actions (publish, subscribe, consume, admin)',
} as const;
const stringOrList = {
  type: ['string', 'array'],
  minLength: 1,
  items: { type: 'string', minLength: 1, 'x-hint': 'a non-empty string' },
  'x-hint': 'a string or a list of strings',
} as const;

const bool = (def: boolean) => ({ type: 'boolean', 'x-hint': 'true or false', default: def }) as const;

/** A platform section: unknown keys refused, absent = every default. */
function section<const P extends object>(properties: P) {
  return { type: 'object', additionalProperties: false, default: {}, properties } as const;
}

export const configSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    host: { type: 'string', 'x-hint': 'a host name or address ("" = all interfaces)', default: '' },
    dataDir: { type: 'string', minLength: 1, 'x-hint': 'a directory path', default: './data' },
    storage: section({
      engine: { enum: ['file', 'memory'], 'x-hint': 'one of file, memory', default: 'file' },
      fsync: { enum: ['always', 'interval', 'never'], 'x-hint': 'one of always, interval, never', default: 'interval' },
      fsyncIntervalMs: { ...positiveInt, default: 200 },
      maxOpenFiles: { ...positiveInt, default: 1024 },
      maxDiskBytes: { ...limitInt, default: -1 },
      snapshotEveryBytes: { ...nonNegativeInt, default: 67108864 },
    }),
    log: section({
      level: {
        enum: ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'],
        'x-hint': 'one of fatal, error, warn, info, debug, trace, silent',
        default: 'info',
      },
      format: { enum: ['auto', 'pretty', 'json'], 'x-hint': 'one of auto, pretty, json', default: 'auto' },
    }),
    limits: section({
      maxConnections: { ...positiveInt, default: 10000 },
      maxConnectionsPerUser: { ...countLimit, default: -1 },
      maxFrameBytes: { type: 'integer', minimum: 1024, 'x-hint': 'an integer >= 1024', default: 16777216 },
      maxSubscriptionsPerConnection: { ...positiveInt, default: 10000 },
      maxStreams: { ...countLimit, default: 10000 },
      maxPartitions: { ...countLimit, default: 10000 },
      maxPartitionsPerTopic: { ...countLimit, default: 1000 },
      maxPartitionsPerUser: { ...countLimit, default: -1 },
      maxQueues: { ...countLimit, default: 100000 },
      maxQueuesPerUser: { ...countLimit, default: -1 },
      outboundMemoryBytes: { ...countLimit, default: 268435456 },
      connectionRate: section({
        perSecond: { type: 'number', minimum: 0, 'x-hint': 'a number >= 0', default: 100 },
        burst: { ...positiveInt, default: 500 },
        exempt: { type: 'array', items: { type: 'string' }, 'x-hint': 'a list of IP addresses', default: ['127.0.0.1', '::1'] },
      }),
    }),
    cluster: clusterSchema,
    http: httpSchema,
    mqtt: mqttSchema,
    amqp: amqpSchema,
    stomp: stompSchema,
    xmpp: xmppSchema,
    kafka: kafkaSchema,
    auth: section({
      usersFile: { ...nullableString, default: null },
      allowAnonymous: bool(true),
      rules: {
        type: 'array',
        'x-hint': 'a list of rules',
        default: [],
        items: {
          type: 'object',
          additionalProperties: false,
          required: ['user', 'address'],
          'x-hint': 'a rule {user, allow|deny, address}',
          properties: { user: stringOrList, address: stringOrList, allow: actionList, deny: actionList },
        },
      },
      maxFailuresPerMinute: { type: 'integer', minimum: 0, 'x-hint': 'an integer >= 0 (0 = no limit)', default: 10 },
    }),
    tls: tlsSchema,
    queues: section({
      maxLength: { ...limitInt, default: 1000000 },
      maxBytes: { ...limitInt, default: 1073741824 },
      maxDeliveries: { ...limitInt, default: 10 },
      deadLetterSuffix: {
        type: 'string',
        pattern: '^[^*#\\s]+$',
        'x-hint': 'a non-empty suffix without spaces or wildcards',
        default: '.dlq',
      },
      deadLetterOnExpiry: bool(false),
      priorities: bool(true),
      memoryBytes: { ...nonNegativeInt, default: 33554432 },
    }),
    streams: section({
      defaultPartitions: { type: 'integer', minimum: 1, maximum: 10000, 'x-hint': 'an integer from 1 to 10000', default: 1 },
      retentionMs: { ...limitInt, default: 604800000 },
      retentionBytes: { ...limitInt, default: -1 },
      segmentBytes: { type: 'integer', minimum: 1024, 'x-hint': 'an integer >= 1024', default: 134217728 },
      autoCreate: bool(true),
      declare: {
        type: 'array',
        'x-hint': 'a list of streams {name, patterns, partitions}',
        default: [],
        items: {
          type: 'object',
          additionalProperties: false,
          required: ['name'],
          'x-hint': 'a stream {name, patterns, partitions, retentionMs, retentionBytes}',
          properties: {
            name: { type: 'string', minLength: 1, pattern: '^[^*#\\u0000]+$', 'x-hint': 'a topic name without wildcards' },
            patterns: { type: 'array', items: { type: 'string', minLength: 1, 'x-hint': 'a topic pattern (sensors.#)' }, 'x-hint': 'a list of topic patterns' },
            partitions: { type: 'integer', minimum: 1, maximum: 10000, 'x-hint': 'an integer from 1 to 10000' },
            retentionMs: limitInt,
            retentionBytes: limitInt,
          },
        },
      },
    }),
    sys: sysSchema,
  },
} as const;

// The interfaces above are the documented shape; the schema must accept exactly it (after defaults).
const configShape: SameShape<JunctionConfig, FromSchema<typeof configSchema>> = true;
void configShape;

/** Fragments for sections that extend the schema. */
export * from './sections/common.js';
