/**
 * The MQTT adapter's settings: the JSON Schema of the `mqtt:` section (validated with the rest of
 * the configuration by the platform, config/validate.ts), its type derived from the schema, and the
 * few values that default to a global `limits:` key. Every key is described in docs/mqtt.md.
 */
import type { FromSchema } from '../../config/infer.js';
import { listenerSection, port } from '../../config/sections/common.js';
import { schemaDefaults, sectionSettings } from '../../config/validate.js';

const MAX_PACKET = 268_435_455;
const UINT32 = 0xffffffff;

export const mqttSchema = listenerSection(
  {
    port: port(1883, 'MQTT listener (TCP)'),
    tlsPort: port(8883, 'MQTT over TLS, opened only when a certificate is configured'),
  },
  {
    maxPacketSize: { type: ['integer', 'null'], minimum: 64, maximum: MAX_PACKET, default: null, description: 'largest packet accepted once connected, announced to MQTT 5 clients; null = limits.maxFrameBytes' },
    maxConnectPacketSize: { type: 'integer', minimum: 64, maximum: MAX_PACKET, default: 65536, description: 'largest first packet (CONNECT), before the client is authenticated' },
    connectTimeoutMs: { type: 'integer', minimum: 1, maximum: 3_600_000, default: 10000, description: 'time a new connection has to send CONNECT' },
    receiveMaximum: { type: 'integer', minimum: 1, maximum: 65535, default: 1024, description: 'incoming QoS 1/2 publishes not yet acknowledged (announced to MQTT 5 clients)' },
    enforceReceiveMaximum: { type: 'boolean', default: false, description: 'true: a client exceeding receiveMaximum is disconnected (0x93); false: it is only slowed down' },
    maxInflight: { type: 'integer', minimum: 1, maximum: 65535, default: 100, description: 'outgoing QoS 1/2 messages in flight per client' },
    maxPendingPublishes: { type: 'integer', minimum: 1, maximum: 1_000_000, default: 256, description: 'publishes awaiting the store per connection before its socket is paused' },
    maxQueuedMessages: { type: 'integer', minimum: 0, default: 10000, description: 'messages per session queue, then the oldest are dropped; 0 = no bound' },
    maxQueuedBytes: { type: 'integer', minimum: 0, default: 67108864, description: 'payload bytes per session queue, then the oldest are dropped; 0 = no bound' },
    maxConnections: { type: 'integer', minimum: -1, default: -1, description: 'connected MQTT clients (after CONNECT), beyond: CONNACK 0x97 / 3; -1 = no limit (sockets: limits.maxConnections)' },
    maxSubscriptionsPerSession: { type: ['integer', 'null'], minimum: -1, default: null, description: 'subscriptions per session; -1 = no limit; null = limits.maxSubscriptionsPerConnection' },
    maxKeepAlive: { type: 'integer', minimum: 0, maximum: 65535, default: 0, description: 'longest keep-alive granted (s), given to MQTT 5 clients asking more as Server Keep Alive; 0 = no limit' },
    maxSessionExpiryInterval: { type: 'integer', minimum: 0, maximum: UINT32, default: UINT32, description: 'cap on the MQTT 5 Session Expiry Interval (s); 4294967295 = never expires' },
    persistentSessionExpiry: { type: 'integer', minimum: 0, maximum: UINT32, default: UINT32, description: 'expiry of MQTT 3.1/3.1.1 persistent sessions (s); 4294967295 = never' },
    topicAliasMaximum: { type: 'integer', minimum: 0, maximum: 65535, default: 64, description: 'topic aliases a client may use towards the broker (announced)' },
    outboundTopicAliases: { type: 'integer', minimum: 0, maximum: 65535, default: 64, description: 'topic aliases the broker uses towards a client; 0 = none' },
    maxQos: { enum: [0, 1, 2], default: 2, description: 'highest QoS accepted and granted' },
    retainAvailable: { type: 'boolean', default: true, description: 'retained messages accepted' },
    responseInformation: { type: ['string', 'null'], default: 'response/', description: 'prefix of the Response Information given to MQTT 5 clients that ask (<prefix><clientId>); null = none' },
    maxClientIdLength: { type: 'integer', minimum: 1, maximum: 1000, default: 1000, description: 'longest client identifier accepted (characters)' },
    websocketPath: { type: ['string', 'null'], pattern: '^/', default: '/mqtt', description: 'WebSocket endpoint on the HTTP listener (subprotocol mqtt); null = none', 'x-hint': 'a path starting with "/", or null' },
  },
);

/** The `mqtt:` section as configured (after validation: every key present). */
export type MqttConfig = FromSchema<typeof mqttSchema>;

/** The settings in force: the section with the `limits:` fallbacks applied. */
export type MqttSettings = Omit<MqttConfig, 'maxPacketSize' | 'maxSubscriptionsPerSession'> & {
  maxPacketSize: number;
  maxSubscriptionsPerSession: number;
};

const FALLBACK = { maxFrameBytes: 16 * 1024 * 1024, maxSubscriptionsPerConnection: 10000 };

/** The settings from the whole configuration (ctx.config); a bad value is a ConfigError naming the key. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function resolveMqttSettings(config: any): MqttSettings {
  return withLimits(sectionSettings<MqttConfig>(mqttSchema, 'mqtt', config?.mqtt), config?.limits);
}

function withLimits(s: MqttConfig, configLimits: Partial<typeof FALLBACK> | undefined): MqttSettings {
  const limits = { ...FALLBACK, ...configLimits };
  const maxPacketSize = s.maxPacketSize ?? Math.min(limits.maxFrameBytes, MAX_PACKET);
  return {
    ...s,
    maxPacketSize,
    maxConnectPacketSize: Math.min(s.maxConnectPacketSize, maxPacketSize),
    maxSubscriptionsPerSession: s.maxSubscriptionsPerSession ?? limits.maxSubscriptionsPerConnection,
  };
}

/** The settings with nothing configured (the global limits at their defaults). */
export const MQTT_DEFAULTS: MqttSettings = withLimits(schemaDefaults(mqttSchema), undefined);
