/**
 * The adapter's settings: the `amqp:` section of the configuration over these defaults (and the
 * global `limits:` for frame bytes; `limits.maxConnections` is the platform's ConnectionGate). Documented in docs/amqp.md.
 */
import { ConfigError } from '../../config/errors.js';
import type { BareNamePolicy } from './address.js';

export interface AmqpSettings {
  /** Largest frame we accept and announce in open (bytes, at least 512). */
  maxFrameSize: number;
  /** Largest message (all frames of one transfer) we accept; announced on attach. */
  maxMessageSize: number;
  /** Sessions per connection (channel-max + 1). */
  maxSessions: number;
  /** Links per session (handle-max + 1). */
  maxLinksPerSession: number;
  /** Links per connection, across its sessions. */
  maxLinksPerConnection: number;
  /** Idle timeout we announce and enforce: a peer silent this long is closed (0 = none). */
  idleTimeoutMs: number;
  /** Time a new connection has to finish the protocol header, SASL and open. */
  handshakeTimeoutMs: number;
  /** Credit per producer link: transfers in flight into the core before more credit is given. */
  creditWindow: number;
  /** Bound across a connection's producer links (credit given + publishes not yet resolved). */
  maxInflightPerConnection: number;
  /** Unsettled deliveries per session in each direction (the session windows). */
  sessionWindow: number;
  /** What a bare address (no /queue/ or /topic/ prefix, no capability) names. */
  bareName: BareNamePolicy;
  /** /queue/NAME, queue://NAME and bare names create the queue (durable) on first use. */
  autoCreateQueues: boolean;
  /** container-id we announce in open. */
  containerId: string;
  /** properties.user-id must equal the authenticated user (anonymous users may send any). */
  validateUserId: boolean;
}

export const AMQP_DEFAULTS: AmqpSettings = {
  maxFrameSize: 262144,
  maxMessageSize: 16 * 1024 * 1024,
  maxSessions: 256,
  maxLinksPerSession: 1024,
  maxLinksPerConnection: 2048,
  idleTimeoutMs: 60000,
  handshakeTimeoutMs: 10000,
  creditWindow: 1000,
  maxInflightPerConnection: 20000,
  sessionWindow: 4096,
  bareName: 'queue',
  autoCreateQueues: true,
  containerId: 'junction',
  validateUserId: true,
};

/** A bad `amqp.*` value: the platform's ConfigError, so the CLI prints one line naming the key. */
export class AmqpConfigError extends ConfigError {}

function int(section: Record<string, unknown>, key: keyof AmqpSettings, min: number, fallback: number): number {
  const v = section[key];
  if (v === undefined || v === null) return fallback;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min) {
    throw new AmqpConfigError(`amqp.${key}: ${JSON.stringify(v)} is not allowed; use an integer >= ${min}`, `amqp.${key}`);
  }
  return v;
}

/** Settings from the whole configuration object (ctx.config). Throws AmqpConfigError naming the key. */
export function resolveSettings(config: unknown): AmqpSettings {
  const root = (config ?? {}) as Record<string, unknown>;
  const s = (root.amqp ?? {}) as Record<string, unknown>;
  const limits = (root.limits ?? {}) as Record<string, unknown>;
  const d = AMQP_DEFAULTS;
  const limitFrame = typeof limits.maxFrameBytes === 'number' && limits.maxFrameBytes > 0 ? limits.maxFrameBytes : d.maxMessageSize;
  const bareName = s.bareName ?? d.bareName;
  if (bareName !== 'queue' && bareName !== 'topic' && bareName !== 'refuse') {
    throw new AmqpConfigError(`amqp.bareName: ${JSON.stringify(bareName)} is not allowed; use one of queue, topic, refuse`, 'amqp.bareName');
  }
  for (const key of ['autoCreateQueues', 'validateUserId'] as const) {
    if (s[key] !== undefined && typeof s[key] !== 'boolean') {
      throw new AmqpConfigError(`amqp.${key}: ${JSON.stringify(s[key])} is not allowed; use true or false`, `amqp.${key}`);
    }
  }
  if (s.containerId !== undefined && (typeof s.containerId !== 'string' || s.containerId.length === 0)) {
    throw new AmqpConfigError(`amqp.containerId: ${JSON.stringify(s.containerId)} is not allowed; use a non-empty string`, 'amqp.containerId');
  }
  const settings: AmqpSettings = {
    maxFrameSize: int(s, 'maxFrameSize', 512, d.maxFrameSize),
    maxMessageSize: int(s, 'maxMessageSize', 1, limitFrame),
    maxSessions: Math.min(65536, int(s, 'maxSessions', 1, d.maxSessions)),
    maxLinksPerSession: int(s, 'maxLinksPerSession', 1, d.maxLinksPerSession),
    maxLinksPerConnection: int(s, 'maxLinksPerConnection', 1, d.maxLinksPerConnection),
    idleTimeoutMs: int(s, 'idleTimeoutMs', 0, d.idleTimeoutMs),
    handshakeTimeoutMs: int(s, 'handshakeTimeoutMs', 1, d.handshakeTimeoutMs),
    creditWindow: int(s, 'creditWindow', 1, d.creditWindow),
    maxInflightPerConnection: int(s, 'maxInflightPerConnection', 1, d.maxInflightPerConnection),
    sessionWindow: int(s, 'sessionWindow', 1, d.sessionWindow),
    bareName,
    autoCreateQueues: (s.autoCreateQueues as boolean | undefined) ?? d.autoCreateQueues,
    containerId: (s.containerId as string | undefined) ?? d.containerId,
    validateUserId: (s.validateUserId as boolean | undefined) ?? d.validateUserId,
  };
  return settings;
}
