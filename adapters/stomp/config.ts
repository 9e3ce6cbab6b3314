/**
 * The STOMP adapter's settings: the JSON Schema of the `stomp:` section (validated with the rest of
 * the configuration by the platform, config/validate.ts) and its type derived from the schema.
 * Documented in docs/stomp.md.
 */
import type { FromSchema } from '../../config/infer.js';
import { listenerSection, port } from '../../config/sections/common.js';
import { schemaDefaults, sectionSettings } from '../../config/validate.js';

export const stompSchema = listenerSection(
  {
    port: port(61613, 'STOMP listener (TCP)'),
    tlsPort: port(61614, 'STOMP over TLS, opened only when a certificate is configured'),
  },
  {
    maxFrameSize: { type: 'integer', minimum: 64, default: 4194304, description: 'largest frame: command, headers and body (bytes)' },
    maxHeaders: { type: 'integer', minimum: 1, default: 1000, description: 'most headers in one frame' },
    maxHeaderLength: { type: 'integer', minimum: 64, default: 10240, description: 'longest header line (name, colon and escaped value) and command line (bytes)' },
    maxSubscriptions: { type: 'integer', minimum: 1, default: 1000, description: 'subscriptions one connection may hold' },
    maxTransactions: { type: 'integer', minimum: 1, default: 100, description: 'transactions one connection may have open at once' },
    maxInflightPublishes: { type: 'integer', minimum: 1, default: 512, description: 'SEND frames whose storage may be pending at once; later frames wait' },
    maxInflightBytes: { type: 'integer', minimum: 1, default: 4194304, description: 'body bytes of SENDs whose storage may be pending at once (one frame always passes)' },
    maxReadAheadBytes: { type: 'integer', minimum: 0, default: 1048576, description: 'bytes of frames read but waiting to run before the connection stops reading its socket' },
    defaultPrefetch: { type: 'integer', minimum: 0, default: 1000, description: 'unacknowledged messages for ack:client and ack:client-individual when SUBSCRIBE names none; 0 = unlimited' },
    maxWriteBuffer: { type: 'integer', minimum: 1024, default: 1048576, description: "bytes queued for a connection's socket before its subscriptions are paused" },
    heartbeatMinMs: { type: 'integer', minimum: 1, default: 1000, description: "heart-beat floor (ms): the server's CONNECTED heart-beat is min,min" },
    heartbeatMaxMs: {
      type: 'integer',
      minimum: { $data: '1/heartbeatMinMs' },
      default: 60000,
      description: "longest interval (ms) between the server's heart-beats when the client asked for any",
      'x-hint': 'an integer >= stomp.heartbeatMinMs',
    },
    heartbeatGrace: { type: 'number', minimum: 1, default: 2, description: 'a client silent for interval x grace after negotiating heart-beats is closed' },
    handshakeTimeoutMs: { type: 'integer', minimum: 1, default: 10000, description: 'time a new connection has to send CONNECT (ms)' },
  },
);

/** The `stomp:` section, which is also the settings in force (every key present after validation). */
export type StompSettings = FromSchema<typeof stompSchema>;

/** The settings from the `stomp:` section; a bad value is a ConfigError naming the key. */
export function resolveStompSettings(section: unknown): StompSettings {
  return sectionSettings<StompSettings>(stompSchema, 'stomp', section);
}

export const STOMP_DEFAULTS: Readonly<StompSettings> = Object.freeze(schemaDefaults<StompSettings>(stompSchema));
