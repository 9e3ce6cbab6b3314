/**
 * The AMQP 1.0 adapter's settings: the JSON Schema of the `amqp:` section (validated with the rest
 * of the configuration by the platform, config/validate.ts), its type derived from the schema, and
 * `maxMessageSize`'s fallback to `limits.maxFrameBytes`. `limits.maxConnections` is the platform's
 * ConnectionGate. Documented in docs/amqp.md.
 */
import type { FromSchema } from '../../config/infer.js';
import { listenerSection, port } from '../../config/sections/common.js';
import { schemaDefaults, sectionSettings } from '../../config/validate.js';

export const amqpSchema = listenerSection(
  {
    port: port(5672, 'AMQP 1.0 listener (TCP)'),
    tlsPort: port(5671, 'AMQPS, opened only when a certificate is configured'),
  },
  {
    maxFrameSize: { type: 'integer', minimum: 512, default: 262144, description: 'largest frame accepted and announced in open (bytes)' },
    maxMessageSize: { type: ['integer', 'null'], minimum: 1, default: null, description: 'largest message (all frames of one transfer), announced on attach; null = limits.maxFrameBytes' },
    maxSessions: { type: 'integer', minimum: 1, maximum: 65536, default: 256, description: 'sessions per connection (channel-max + 1)' },
    maxLinksPerSession: { type: 'integer', minimum: 1, default: 1024, description: 'links per session (handle-max + 1)' },
    maxLinksPerConnection: { type: 'integer', minimum: 1, default: 2048, description: 'links per connection, across its sessions' },
    idleTimeoutMs: { type: 'integer', minimum: 0, default: 60000, description: 'idle timeout announced and enforced: a peer silent this long is closed; 0 = none' },
    handshakeTimeoutMs: { type: 'integer', minimum: 1, default: 10000, description: 'time a new connection has to finish the protocol header, SASL and open' },
    creditWindow: { type: 'integer', minimum: 1, default: 1000, description: 'credit per producer link: transfers in flight into the core' },
    maxInflightPerConnection: { type: 'integer', minimum: 1, default: 20000, description: 'the same bound across all producer links of a connection' },
    sessionWindow: { type: 'integer', minimum: 1, default: 4096, description: 'unsettled deliveries per session in each direction (the session windows)' },
    bareName: { enum: ['queue', 'topic', 'refuse'], default: 'queue', description: 'what an address without /queue/ or /topic/ prefix (and no capability) names' },
    autoCreateQueues: { type: 'boolean', default: true, description: '/queue/NAME, queue://NAME and bare names create the queue (durable) on first use' },
    containerId: { type: 'string', minLength: 1, default: 'junction', description: 'container-id announced in open' },
    validateUserId: { type: 'boolean', default: true, description: 'properties.user-id must equal the authenticated user (anonymous users may send any)' },
  },
);

/** The `amqp:` section as configured (after validation: every key present). */
export type AmqpConfig = FromSchema<typeof amqpSchema>;

/** The settings in force: the section with `maxMessageSize` resolved. */
export type AmqpSettings = Omit<AmqpConfig, 'maxMessageSize'> & { maxMessageSize: number };

const DEFAULT_MAX_FRAME_BYTES = 16 * 1024 * 1024;

/** Settings from the whole configuration object (ctx.config); a bad value is a ConfigError naming the key. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function resolveSettings(config: any): AmqpSettings {
  return withLimits(sectionSettings<AmqpConfig>(amqpSchema, 'amqp', config?.amqp), config?.limits?.maxFrameBytes);
}

function withLimits(s: AmqpConfig, limitFrame: unknown): AmqpSettings {
  return { ...s, maxMessageSize: s.maxMessageSize ?? (typeof limitFrame === 'number' && limitFrame > 0 ? limitFrame : DEFAULT_MAX_FRAME_BYTES) };
}

/** The settings with nothing configured. */
export const AMQP_DEFAULTS: AmqpSettings = withLimits(schemaDefaults(amqpSchema), undefined);
