/**
 * The XMPP adapter's settings: every key of the `xmpp:` config section with its default. The
 * platform's schema (config/sections/xmpp.ts) lets unknown keys through; this file checks them
 * when the adapter starts and fills in the defaults.
 */

export interface XmppSettings {
  /** Served domain; pubsub lives at `pubsub.<domain>`. */
  domain: string;
  /** Refuse SASL until STARTTLS when a certificate is configured. */
  requireTls: boolean;
  /** Allow SASL PLAIN on an unencrypted stream (loopback, tests). */
  allowPlainWithoutTls: boolean;
  /** SASL mechanisms offered, in order of preference. ANONYMOUS only when the auth plugin allows anonymous access, EXTERNAL only with a verified client certificate. */
  mechanisms: string[];
  /** In-band registration (XEP-0077). Unset: decided at init (on only with anonymous access and no users configured). */
  registration: boolean | undefined;
  /** Largest stanza (characters of XML) once authenticated. */
  maxStanzaBytes: number;
  /** Largest stanza before authentication. */
  maxUnauthenticatedStanzaBytes: number;
  /** Deepest element nesting inside one stanza. */
  maxDepth: number;
  /** Inbound bytes per second per connection (0 = unlimited); reading pauses when exceeded. */
  rateBytesPerSecond: number;
  /** Burst allowance of the rate limit, in bytes. */
  rateBurstBytes: number;
  /** Seconds to finish authentication and binding before the connection is closed. */
  negotiationTimeoutMs: number;
  /** Silence after which a bound client is pinged; silent as long again, it is closed (0 = never). */
  idleTimeoutMs: number;
  /** SASL failures on one stream before it is closed. */
  maxAuthFailures: number;
  /** Connected resources per account; binding one more is refused with resource-constraint. */
  maxResourcesPerUser: number;
  /** XEP-0198: how long a dropped session waits for resumption. */
  smResumeTimeoutMs: number;
  /** XEP-0198: most unacknowledged outbound stanzas kept per session. */
  smMaxUnacked: number;
  /** Offline messages kept per account (XEP-0160). */
  offlineMaxMessages: number;
  /** Outbound bytes buffered per connection before its producers are slowed. */
  sendHighWaterBytes: number;
  pubsub: {
    /** Publishing to or subscribing to a node that does not exist creates it (every core topic is a node). */
    autoCreate: boolean;
    /** Most items returned by one items retrieval. */
    maxItems: number;
    /** Send the node's last item to a new subscriber. */
    sendLastItemOnSubscribe: boolean;
  };
  websocket: {
    /** Mount `/xmpp` on the HTTP host (RFC 7395). */
    enabled: boolean;
    path: string;
  };
}

export const XMPP_DEFAULTS: XmppSettings = {
  domain: 'localhost',
  requireTls: false,
  allowPlainWithoutTls: true,
  mechanisms: ['EXTERNAL', 'SCRAM-SHA-256', 'SCRAM-SHA-1', 'PLAIN'],
  registration: undefined,
  maxStanzaBytes: 262144,
  maxUnauthenticatedStanzaBytes: 16384,
  maxDepth: 32,
  rateBytesPerSecond: 4 * 1024 * 1024,
  rateBurstBytes: 4 * 1024 * 1024,
  negotiationTimeoutMs: 30000,
  idleTimeoutMs: 300000,
  maxAuthFailures: 5,
  maxResourcesPerUser: 16,
  smResumeTimeoutMs: 300000,
  smMaxUnacked: 10000,
  offlineMaxMessages: 1000,
  sendHighWaterBytes: 1024 * 1024,
  pubsub: { autoCreate: true, maxItems: 100, sendLastItemOnSubscribe: false },
  websocket: { enabled: true, path: '/xmpp' },
};

export const KNOWN_MECHANISMS = ['EXTERNAL', 'SCRAM-SHA-512', 'SCRAM-SHA-256', 'SCRAM-SHA-1', 'PLAIN', 'ANONYMOUS'];

export class XmppConfigError extends Error {
  override readonly name = 'XmppConfigError';
}

function num(section: Record<string, unknown>, key: keyof XmppSettings, min: number): number {
  const v = section[key];
  if (v === undefined || v === null) return XMPP_DEFAULTS[key] as number;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min) throw new XmppConfigError(`xmpp.${key}: must be an integer >= ${min}`);
  return v;
}

function bool(v: unknown, key: string, dflt: boolean): boolean {
  if (v === undefined || v === null) return dflt;
  if (typeof v !== 'boolean') throw new XmppConfigError(`xmpp.${key}: must be true or false`);
  return v;
}

/** Merges the `xmpp:` section over the defaults, with one clear error for a bad value. */
export function resolveXmppSettings(section: Record<string, unknown> | undefined): XmppSettings {
  const s = section ?? {};
  const domain = s.domain ?? XMPP_DEFAULTS.domain;
  if (typeof domain !== 'string' || !/^[a-z0-9.-]{1,253}$/i.test(domain)) throw new XmppConfigError('xmpp.domain: must be a domain name');
  let mechanisms = XMPP_DEFAULTS.mechanisms;
  if (s.mechanisms !== undefined) {
    if (!Array.isArray(s.mechanisms) || s.mechanisms.length === 0 || !s.mechanisms.every((m) => KNOWN_MECHANISMS.includes(String(m)))) {
      throw new XmppConfigError(`xmpp.mechanisms: must be a non-empty list of ${KNOWN_MECHANISMS.join(', ')}`);
    }
    mechanisms = s.mechanisms.map(String);
  }
  const ps = (s.pubsub ?? {}) as Record<string, unknown>;
  const ws = (s.websocket ?? {}) as Record<string, unknown>;
  const maxItems = ps.maxItems ?? XMPP_DEFAULTS.pubsub.maxItems;
  if (typeof maxItems !== 'number' || !Number.isInteger(maxItems) || maxItems < 1) throw new XmppConfigError('xmpp.pubsub.maxItems: must be a positive integer');
  const path = ws.path ?? XMPP_DEFAULTS.websocket.path;
  if (typeof path !== 'string' || !path.startsWith('/')) throw new XmppConfigError('xmpp.websocket.path: must start with /');
  return {
    domain: domain.toLowerCase(),
    requireTls: bool(s.requireTls, 'requireTls', XMPP_DEFAULTS.requireTls),
    allowPlainWithoutTls: bool(s.allowPlainWithoutTls, 'allowPlainWithoutTls', XMPP_DEFAULTS.allowPlainWithoutTls),
    mechanisms,
    registration: s.registration === undefined || s.registration === null ? undefined : bool(s.registration, 'registration', false),
    maxStanzaBytes: num(s, 'maxStanzaBytes', 1024),
    maxUnauthenticatedStanzaBytes: num(s, 'maxUnauthenticatedStanzaBytes', 1024),
    maxDepth: num(s, 'maxDepth', 4),
    rateBytesPerSecond: num(s, 'rateBytesPerSecond', 0),
    rateBurstBytes: num(s, 'rateBurstBytes', 1024),
    negotiationTimeoutMs: num(s, 'negotiationTimeoutMs', 100),
    idleTimeoutMs: num(s, 'idleTimeoutMs', 0),
    maxAuthFailures: num(s, 'maxAuthFailures', 1),
    maxResourcesPerUser: num(s, 'maxResourcesPerUser', 1),
    smResumeTimeoutMs: num(s, 'smResumeTimeoutMs', 0),
    smMaxUnacked: num(s, 'smMaxUnacked', 10),
    offlineMaxMessages: num(s, 'offlineMaxMessages', 0),
    sendHighWaterBytes: num(s, 'sendHighWaterBytes', 1024),
    pubsub: {
      autoCreate: bool(ps.autoCreate, 'pubsub.autoCreate', XMPP_DEFAULTS.pubsub.autoCreate),
      maxItems,
      sendLastItemOnSubscribe: bool(ps.sendLastItemOnSubscribe, 'pubsub.sendLastItemOnSubscribe', XMPP_DEFAULTS.pubsub.sendLastItemOnSubscribe),
    },
    websocket: { enabled: bool(ws.enabled, 'websocket.enabled', XMPP_DEFAULTS.websocket.enabled), path },
  };
}
