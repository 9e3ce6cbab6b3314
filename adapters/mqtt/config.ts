/**
 * The MQTT adapter's settings: the defaults below, under the global `limits:` section, under the
 * `mqtt:` section of the configuration. Every key is described in docs/mqtt.md.
 */

export interface MqttSettings {
  /** Largest packet accepted from a client once connected (bytes); advertised to MQTT 5 clients. */
  maxPacketSize: number;
  /** Largest first packet (CONNECT) accepted before the client is authenticated (bytes). */
  maxConnectPacketSize: number;
  /** Time a new connection has to send its CONNECT (ms). */
  connectTimeoutMs: number;
  /** Inbound QoS 1/2 PUBLISH packets a client may have unacknowledged (MQTT 5 Receive Maximum we advertise). */
  receiveMaximum: number;
  /**
   * true: a client that exceeds receiveMaximum is disconnected (0x93) as MQTT 5 describes.
   * false (default): the connection is only slowed down (many clients, e.g. MQTT.js, ignore the server's Receive Maximum).
   */
  enforceReceiveMaximum: boolean;
  /** Outbound QoS 1/2 messages in flight per client (capped further by the client's own Receive Maximum). */
  maxInflight: number;
  /** broker.publish() calls awaiting the store per connection before the socket is paused. */
  maxPendingPublishes: number;
  /** Messages held per session queue (offline or slow client); beyond it the oldest are dropped and counted. 0 = no bound. */
  maxQueuedMessages: number;
  /** Payload bytes held per session queue; 0 = no bound. */
  maxQueuedBytes: number;
  /**
   * Connected MQTT clients (after CONNECT), refused with CONNACK 0x97 / 3; -1 = no limit. Sockets
   * are limited earlier, before CONNECT, by `limits.maxConnections` (the ConnectionGate).
   */
  maxConnections: number;
  /** Subscriptions per session; -1 = no limit. */
  maxSubscriptionsPerSession: number;
  /** Longest keep-alive granted (s); a longer (or zero) one is replaced by this as MQTT 5 Server Keep Alive. 0 = no limit. */
  maxKeepAlive: number;
  /** Cap on the Session Expiry Interval an MQTT 5 client may ask for (s); 4294967295 = never expires. */
  maxSessionExpiryInterval: number;
  /** Expiry of MQTT 3.1/3.1.1 persistent sessions (clean session = 0), in s; 4294967295 = never. */
  persistentSessionExpiry: number;
  /** Topic aliases a client may use towards us (MQTT 5 Topic Alias Maximum we advertise). */
  topicAliasMaximum: number;
  /** Topic aliases we use towards a client (capped by the client's Topic Alias Maximum); 0 = never. */
  outboundTopicAliases: number;
  /** Highest QoS accepted and granted (0, 1 or 2). */
  maxQos: 0 | 1 | 2;
  /** Retained messages accepted. */
  retainAvailable: boolean;
  /** Prefix of the Response Information given to MQTT 5 clients that request it (`<prefix><clientId>`); null = none. */
  responseInformation: string | null;
  /** Longest client identifier accepted (characters). */
  maxClientIdLength: number;
  /** WebSocket endpoint on the HTTP listener (subprotocol `mqtt`); null = none. */
  websocketPath: string | null;
}

export const MQTT_DEFAULTS: MqttSettings = {
  maxPacketSize: 16 * 1024 * 1024,
  maxConnectPacketSize: 64 * 1024,
  connectTimeoutMs: 10_000,
  receiveMaximum: 1024,
  enforceReceiveMaximum: false,
  maxInflight: 100,
  maxPendingPublishes: 256,
  maxQueuedMessages: 10_000,
  maxQueuedBytes: 64 * 1024 * 1024,
  maxConnections: -1,
  maxSubscriptionsPerSession: 10_000,
  maxKeepAlive: 0,
  maxSessionExpiryInterval: 0xffffffff,
  persistentSessionExpiry: 0xffffffff,
  topicAliasMaximum: 64,
  outboundTopicAliases: 64,
  maxQos: 2,
  retainAvailable: true,
  responseInformation: 'response/',
  maxClientIdLength: 1000,
  websocketPath: '/mqtt',
};

export class MqttConfigError extends Error {
  override readonly name = 'MqttConfigError';
}

const RANGES: Partial<Record<keyof MqttSettings, [number, number]>> = {
  maxPacketSize: [64, 268_435_455],
  maxConnectPacketSize: [64, 268_435_455],
  connectTimeoutMs: [1, 3_600_000],
  receiveMaximum: [1, 65_535],
  maxInflight: [1, 65_535],
  maxPendingPublishes: [1, 1_000_000],
  maxQueuedMessages: [0, Number.MAX_SAFE_INTEGER],
  maxQueuedBytes: [0, Number.MAX_SAFE_INTEGER],
  maxConnections: [-1, Number.MAX_SAFE_INTEGER],
  maxSubscriptionsPerSession: [-1, Number.MAX_SAFE_INTEGER],
  maxKeepAlive: [0, 65_535],
  maxSessionExpiryInterval: [0, 0xffffffff],
  persistentSessionExpiry: [0, 0xffffffff],
  topicAliasMaximum: [0, 65_535],
  outboundTopicAliases: [0, 65_535],
  maxQos: [0, 2],
  maxClientIdLength: [1, 1000],
};

/** Merges defaults < config.limits < config.mqtt and checks every value (an error names the key). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function resolveMqttSettings(config: any): MqttSettings {
  const out: MqttSettings = { ...MQTT_DEFAULTS };
  const limits = config?.limits;
  if (limits) {
    if (Number.isInteger(limits.maxFrameBytes)) out.maxPacketSize = Math.min(limits.maxFrameBytes, 268_435_455);
    if (Number.isInteger(limits.maxSubscriptionsPerConnection)) out.maxSubscriptionsPerSession = limits.maxSubscriptionsPerConnection;
  }
  const section = config?.mqtt ?? {};
  for (const key of Object.keys(MQTT_DEFAULTS) as Array<keyof MqttSettings>) {
    const v = section[key];
    if (v === undefined) continue;
    const def = MQTT_DEFAULTS[key];
    if (key === 'responseInformation' || key === 'websocketPath') {
      if (v !== null && typeof v !== 'string') throw new MqttConfigError(`mqtt.${key}: must be a string or null`);
      if (key === 'websocketPath' && typeof v === 'string' && !v.startsWith('/')) throw new MqttConfigError(`mqtt.${key}: must start with "/"`);
    } else if (typeof def === 'boolean') {
      if (typeof v !== 'boolean') throw new MqttConfigError(`mqtt.${key}: must be true or false`);
    } else {
      const [min, max] = RANGES[key] ?? [0, Number.MAX_SAFE_INTEGER];
      if (!Number.isInteger(v) || v < min || v > max) throw new MqttConfigError(`mqtt.${key}: must be an integer from ${min} to ${max}`);
    }
    (out as unknown as Record<string, unknown>)[key] = v;
  }
  if (out.maxConnectPacketSize > out.maxPacketSize) out.maxConnectPacketSize = out.maxPacketSize;
  return out;
}
