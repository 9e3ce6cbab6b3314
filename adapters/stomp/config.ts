/**
 * The STOMP adapter's own keys in the `stomp:` configuration section, their defaults and their
 * checks. The platform's schema (config/sections/stomp.ts) lets unknown keys through, so this
 * file validates what the adapter reads and names the key in the error. `stompConfigProperties`
 * is the JSON Schema fragment for the same keys, for the platform to merge into its schema.
 */

export interface StompSettings {
  /** Largest frame accepted: command, headers and body together (bytes). */
  maxFrameSize: number;
  /** Most headers in one frame. */
  maxHeaders: number;
  /** Longest header line (name, colon and escaped value), and longest command line (bytes). */
  maxHeaderLength: number;
  /** Most subscriptions one connection may hold. */
  maxSubscriptions: number;
  /** Most transactions one connection may have open at once. */
  maxTransactions: number;
  /** SEND frames whose storage may be pending at once; later frames wait (read ahead, see below). */
  maxInflightPublishes: number;
  /** Body bytes of SENDs whose storage may be pending at once (one frame always passes). */
  maxInflightBytes: number;
  /** Bytes of frames read but waiting to run before the connection stops reading its socket. */
  maxReadAheadBytes: number;
  /** Prefetch (unacknowledged messages) for ack:client and ack:client-individual when the SUBSCRIBE names none. 0 = unlimited. */
  defaultPrefetch: number;
  /** Bytes queued for a connection's socket before its subscriptions are paused. */
  maxWriteBuffer: number;
  /** Heart-beat floor (ms): the server's CONNECTED heart-beat is `min,min`, so no negotiated interval is shorter. */
  heartbeatMinMs: number;
  /** Longest interval (ms) between the server's heart-beats when the client asked for any. */
  heartbeatMaxMs: number;
  /** A connection that sends nothing for `interval x grace` after negotiating heart-beats is closed. */
  heartbeatGrace: number;
  /** Time (ms) a new connection has to send CONNECT (older name: `connectTimeoutMs`). */
  handshakeTimeoutMs: number;
}

export const STOMP_DEFAULTS: Readonly<StompSettings> = Object.freeze({
  maxFrameSize: 4 * 1024 * 1024,
  maxHeaders: 1000,
  maxHeaderLength: 10 * 1024,
  maxSubscriptions: 1000,
  maxTransactions: 100,
  maxInflightPublishes: 512,
  maxInflightBytes: 4 * 1024 * 1024,
  maxReadAheadBytes: 1024 * 1024,
  defaultPrefetch: 1000,
  maxWriteBuffer: 1024 * 1024,
  heartbeatMinMs: 1000,
  heartbeatMaxMs: 60_000,
  heartbeatGrace: 2,
  handshakeTimeoutMs: 10_000,
});

const INTEGER_KEYS: Array<[keyof StompSettings, number]> = [
  ['maxFrameSize', 64], ['maxHeaders', 1], ['maxHeaderLength', 64], ['maxSubscriptions', 1],
  ['maxTransactions', 1], ['maxInflightPublishes', 1], ['maxInflightBytes', 1], ['maxReadAheadBytes', 0], ['defaultPrefetch', 0],
  ['maxWriteBuffer', 1024], ['heartbeatMinMs', 1], ['heartbeatMaxMs', 1], ['handshakeTimeoutMs', 1],
];

export class StompConfigError extends Error {
  override readonly name = 'StompConfigError';
  constructor(readonly key: string, message: string) {
    super(`${key}: ${message}`);
  }
}

/** The settings in force: the section's keys over the defaults. Throws StompConfigError naming a bad key. */
export function resolveStompSettings(section: Record<string, unknown> | undefined | null): StompSettings {
  const out: StompSettings = { ...STOMP_DEFAULTS };
  const s = { ...section };
  if (s.handshakeTimeoutMs === undefined && s.connectTimeoutMs !== undefined) s.handshakeTimeoutMs = s.connectTimeoutMs;
  for (const [key, min] of INTEGER_KEYS) {
    let v = s[key];
    if (v === undefined || v === null) continue;
    // Environment variables arrive as text when the platform's schema does not know the key.
    if (typeof v === 'string' && v.trim() !== '' && Number.isFinite(Number(v))) v = Number(v);
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min) {
      throw new StompConfigError(`stomp.${key}`, `must be an integer >= ${min} (got ${JSON.stringify(v)})`);
    }
    out[key] = v;
  }
  let g = s.heartbeatGrace;
  if (typeof g === 'string' && g.trim() !== '' && Number.isFinite(Number(g))) g = Number(g);
  if (g !== undefined && g !== null) {
    if (typeof g !== 'number' || !(g >= 1)) throw new StompConfigError('stomp.heartbeatGrace', `must be a number >= 1 (got ${JSON.stringify(g)})`);
    out.heartbeatGrace = g;
  }
  if (out.heartbeatMaxMs < out.heartbeatMinMs) {
    throw new StompConfigError('stomp.heartbeatMaxMs', `must be >= stomp.heartbeatMinMs (${out.heartbeatMinMs})`);
  }
  return out;
}

/** JSON Schema properties for the keys above (for config/sections/stomp.ts). */
export const stompConfigProperties = Object.fromEntries([
  ...INTEGER_KEYS.map(([key, min]) => [key, { type: 'integer', minimum: min, 'x-hint': `an integer >= ${min}` }]),
  ['heartbeatGrace', { type: 'number', minimum: 1, 'x-hint': 'a number >= 1' }],
  ['connectTimeoutMs', { type: 'integer', minimum: 1, 'x-hint': 'an integer >= 1' }],
]) as Record<keyof StompSettings | 'connectTimeoutMs', object>;
