/**
 * The XMPP adapter's settings: the JSON Schema of the `xmpp:` section (validated with the rest of
 * the configuration by the platform, config/validate.ts) and its type derived from the schema.
 * Documented in docs/xmpp.md.
 */
import type { FromSchema } from '../../config/infer.js';
import { listenerSection, port } from '../../config/sections/common.js';
import { schemaDefaults, sectionSettings } from '../../config/validate.js';

export const KNOWN_MECHANISMS = ['EXTERNAL', 'SCRAM-SHA-512', 'SCRAM-SHA-256', 'SCRAM-SHA-1', 'PLAIN', 'ANONYMOUS'] as const;

export const xmppSchema = listenerSection(
  {
    port: port(5222, 'XMPP client-to-server listener; STARTTLS on it when a certificate is configured'),
    tlsPort: port(0, 'XMPP direct TLS (XEP-0368, usually 5223), opened when set and a certificate is configured; 0 = none'),
  },
  {
    domain: { type: 'string', pattern: '^[a-zA-Z0-9.-]{1,253}$', default: 'localhost', description: 'the XMPP domain served; pubsub lives at pubsub.<domain>', 'x-hint': 'a domain name' },
    requireTls: { type: 'boolean', default: false, description: 'refuse SASL until STARTTLS when a certificate is configured' },
    allowPlainWithoutTls: { type: 'boolean', default: true, description: 'allow SASL PLAIN on an unencrypted stream' },
    mechanisms: {
      type: 'array',
      minItems: 1,
      items: { enum: KNOWN_MECHANISMS },
      default: ['EXTERNAL', 'SCRAM-SHA-256', 'SCRAM-SHA-1', 'PLAIN'],
      description: 'SASL mechanisms offered, in order of preference; ANONYMOUS only when anonymous access is allowed, EXTERNAL only with a verified client certificate',
    },
    registration: { type: ['boolean', 'null'], default: null, description: 'in-band registration (XEP-0077); null = on only with anonymous access and no users configured' },
    maxStanzaBytes: { type: 'integer', minimum: 1024, default: 262144, description: 'largest stanza (characters of XML) once authenticated' },
    maxUnauthenticatedStanzaBytes: { type: 'integer', minimum: 1024, default: 16384, description: 'largest stanza before authentication' },
    maxDepth: { type: 'integer', minimum: 4, default: 32, description: 'deepest element nesting inside one stanza' },
    rateBytesPerSecond: { type: 'integer', minimum: 0, default: 4194304, description: 'inbound bytes per second per connection, then reading pauses; 0 = unlimited' },
    rateBurstBytes: { type: 'integer', minimum: 1024, default: 4194304, description: 'burst allowance of the rate limit (bytes)' },
    negotiationTimeoutMs: { type: 'integer', minimum: 100, default: 30000, description: 'time to finish authentication and binding before the connection is closed' },
    idleTimeoutMs: { type: 'integer', minimum: 0, default: 300000, description: 'silence after which a bound client is pinged; silent as long again, it is closed; 0 = never' },
    maxAuthFailures: { type: 'integer', minimum: 1, default: 5, description: 'SASL failures on one stream before it is closed' },
    maxResourcesPerUser: { type: 'integer', minimum: 1, default: 16, description: 'connected resources per account; one more is refused (resource-constraint)' },
    smResumeTimeoutMs: { type: 'integer', minimum: 0, default: 300000, description: 'XEP-0198: how long a dropped session waits for resumption' },
    smMaxUnacked: { type: 'integer', minimum: 10, default: 10000, description: 'XEP-0198: unacknowledged outbound stanzas kept per session' },
    offlineMaxMessages: { type: 'integer', minimum: 0, default: 1000, description: 'offline messages kept per account (XEP-0160)' },
    sendHighWaterBytes: { type: 'integer', minimum: 1024, default: 1048576, description: 'outbound bytes buffered per connection before its producers are slowed' },
    pubsub: {
      type: 'object',
      additionalProperties: false,
      default: {},
      description: 'XEP-0060 publish-subscribe on core topics',
      properties: {
        autoCreate: { type: 'boolean', default: true, description: 'publishing or subscribing to a node that does not exist creates it' },
        maxItems: { type: 'integer', minimum: 1, default: 100, description: 'most items returned by one items retrieval' },
        sendLastItemOnSubscribe: { type: 'boolean', default: false, description: "send the node's last item to a new subscriber" },
      },
    },
    websocket: {
      type: 'object',
      additionalProperties: false,
      default: {},
      description: 'XMPP over WebSocket (RFC 7395) on the HTTP listener',
      properties: {
        enabled: { type: 'boolean', default: true, description: 'mount the endpoint' },
        path: { type: 'string', pattern: '^/', default: '/xmpp', description: 'its path', 'x-hint': 'a path starting with "/"' },
      },
    },
  },
);

/** The `xmpp:` section as configured (after validation: every key present). */
export type XmppConfig = FromSchema<typeof xmppSchema>;

/** The settings in force; `registration` undefined until the adapter decides it at init. */
export type XmppSettings = Omit<XmppConfig, 'registration'> & { registration: boolean | undefined };

/** The settings from the `xmpp:` section; a bad value is a ConfigError naming the key. */
export function resolveXmppSettings(section: unknown): XmppSettings {
  return settingsFrom(sectionSettings<XmppConfig>(xmppSchema, 'xmpp', section));
}

function settingsFrom(s: XmppConfig): XmppSettings {
  return { ...s, domain: s.domain.toLowerCase(), registration: s.registration ?? undefined };
}

export const XMPP_DEFAULTS: XmppSettings = settingsFrom(schemaDefaults(xmppSchema));
