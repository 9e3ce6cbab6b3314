/**
 * The configuration's shape (TypeScript) and its JSON Schema (validated with ajv in load.ts).
 * Every default lives in config/default.yaml; docs/configuration.md describes every key.
 * Listener and protocol sections live in config/sections/ so each adapter extends its own file.
 */
import { limitInt, nonNegativeInt, nullableString, positiveInt, tlsSchema, type TlsSettings } from './sections/common.js';
import { amqpSchema, type AmqpConfig } from './sections/amqp.js';
import { clusterSchema, type ClusterConfig } from './sections/cluster.js';
import { httpSchema, type HttpConfig } from './sections/http.js';
import type { DeclaredStream } from '../core/stream/declared-streams.js';
import { kafkaSchema, type KafkaConfig } from './sections/kafka.js';
import { mqttSchema, type MqttConfig } from './sections/mqtt.js';
import { stompSchema, type StompConfig } from './sections/stomp.js';
import { xmppSchema, type XmppConfig } from './sections/xmpp.js';

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
}

export interface LimitsConfig {
  /** Connections per adapter, counted across its plain, TLS and WebSocket listeners. */
  maxConnections: number;
  /** Largest protocol frame / packet / stanza / request accepted by any listener. */
  maxFrameBytes: number;
  maxSubscriptionsPerConnection: number;
  /** Streams (Kafka topics) in the broker; -1 = no limit. */
  maxStreams: number;
  /** Stream partitions in the broker, all streams together; -1 = no limit. */
  maxPartitions: number;
  /** Partitions of one stream; -1 = no limit. */
  maxPartitionsPerTopic: number;
  /** Queues in the broker (dead-letter queues count but are always created); -1 = no limit. */
  maxQueues: number;
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
  auth: AuthConfig;
  /** Global TLS settings; each listener's `tls:` overrides them key by key. */
  tls: TlsSettings;
  queues: QueuesConfig;
  streams: StreamsConfig;
  /** MQTT `$SYS` topics (plugins/sys). */
  sys: { intervalSeconds: number };
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

export const configSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    host: { type: 'string', 'x-hint': 'a host name or address ("" = all interfaces)' },
    dataDir: { type: 'string', minLength: 1, 'x-hint': 'a directory path' },
    storage: {
      type: 'object',
      additionalProperties: false,
      properties: {
        engine: { enum: ['file', 'memory'], 'x-hint': 'one of file, memory' },
        fsync: { enum: ['always', 'interval', 'never'], 'x-hint': 'one of always, interval, never' },
        fsyncIntervalMs: positiveInt,
        maxOpenFiles: positiveInt,
        maxDiskBytes: limitInt,
      },
    },
    log: {
      type: 'object',
      additionalProperties: false,
      properties: {
        level: {
          enum: ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'],
          'x-hint': 'one of fatal, error, warn, info, debug, trace, silent',
        },
        format: { enum: ['auto', 'pretty', 'json'], 'x-hint': 'one of auto, pretty, json' },
      },
    },
    limits: {
      type: 'object',
      additionalProperties: false,
      properties: {
        maxConnections: positiveInt,
        maxFrameBytes: { type: 'integer', minimum: 1024, 'x-hint': 'an integer >= 1024' },
        maxSubscriptionsPerConnection: positiveInt,
        maxStreams: countLimit,
        maxPartitions: countLimit,
        maxPartitionsPerTopic: countLimit,
        maxQueues: countLimit,
      },
    },
    cluster: clusterSchema,
    http: httpSchema,
    mqtt: mqttSchema,
    amqp: amqpSchema,
    stomp: stompSchema,
    xmpp: xmppSchema,
    kafka: kafkaSchema,
    auth: {
      type: 'object',
      additionalProperties: false,
      properties: {
        usersFile: nullableString,
        allowAnonymous: { type: 'boolean', 'x-hint': 'true or false' },
        maxFailuresPerMinute: { type: 'integer', minimum: 0, 'x-hint': 'an integer >= 0 (0 = no limit)' },
        rules: {
          type: 'array',
          'x-hint': 'a list of rules',
          items: {
            type: 'object',
            additionalProperties: false,
            required: ['user', 'address'],
            'x-hint': 'a rule {user, allow|deny, address}',
            properties: { user: stringOrList, address: stringOrList, allow: actionList, deny: actionList },
          },
        },
      },
    },
    tls: tlsSchema,
    queues: {
      type: 'object',
      additionalProperties: false,
      properties: {
        maxLength: limitInt,
        maxBytes: limitInt,
        maxDeliveries: limitInt,
        deadLetterOnExpiry: { type: 'boolean', 'x-hint': 'true or false' },
        priorities: { type: 'boolean', 'x-hint': 'true or false' },
        memoryBytes: nonNegativeInt,
        deadLetterSuffix: {
          type: 'string',
          pattern: '^[^*#\\s]+$',
          'x-hint': 'a non-empty suffix without spaces or wildcards',
        },
      },
    },
    streams: {
      type: 'object',
      additionalProperties: false,
      properties: {
        defaultPartitions: { type: 'integer', minimum: 1, maximum: 10000, 'x-hint': 'an integer from 1 to 10000' },
        retentionMs: limitInt,
        retentionBytes: limitInt,
        segmentBytes: { type: 'integer', minimum: 1024, 'x-hint': 'an integer >= 1024' },
        autoCreate: { type: 'boolean', 'x-hint': 'true or false' },
        declare: {
          type: 'array',
          'x-hint': 'a list of streams {name, patterns, partitions}',
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
      },
    },
    sys: {
      type: 'object',
      additionalProperties: false,
      properties: {
        intervalSeconds: { type: 'integer', minimum: 0, maximum: 86400, 'x-hint': 'an integer from 0 (off) to 86400' },
      },
    },
  },
} as const;

/** Fragments for sections that extend the schema. */
export * from './sections/common.js';
