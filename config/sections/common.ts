/**
 * Schema fragments shared by the configuration sections. Each section's JSON Schema lives with the
 * code that reads it (adapters/<protocol>/config.ts, plugins/<name>/config.ts, config/schema.ts),
 * every key with its `default` and, for generated docs, a `description`; its TypeScript type is
 * derived from it (config/infer.ts).
 *
 * `x-hint` is an annotation read by config/validate.ts: the "what is allowed" half of the one-line
 * error printed when a value fails validation (derived from the schema's keywords when absent).
 */

/** TLS settings: global (`tls:`) or per listener (`mqtt.tls:` ... overriding the global keys). */
export interface TlsSettings {
  /** PEM certificate chain: a file path, or the PEM text itself. null = no TLS. */
  cert?: string | null;
  /** PEM private key: a file path or PEM text. */
  key?: string | null;
  /** PEM CA bundle used to verify client certificates: a file path or PEM text. */
  ca?: string | null;
  /** false: do not ask; true: ask for a client certificate (verified if sent); 'require': refuse clients without a valid one. */
  requestClientCert?: boolean | 'require';
}

export const PORT_HINT =
  'an integer from 0 to 65535 (0 disables the listener, -1 or "auto" binds an ephemeral port)';

export const portSchema = { type: 'integer', minimum: -1, maximum: 65535, 'x-hint': PORT_HINT } as const;

/** A listener port with its default. */
export function port<const D extends number>(def: D, description: string) {
  return { ...portSchema, default: def, description } as const;
}

/** Port keys are recognised by their hint: "auto" means -1 there (config/load.ts, config/paths.ts). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function isPortSchema(s: any): boolean {
  return !!s && s['x-hint'] === PORT_HINT;
}

export const nullableString = { type: ['string', 'null'], 'x-hint': 'a string or null' } as const;

export const positiveInt = { type: 'integer', minimum: 1, 'x-hint': 'a positive integer' } as const;
export const nonNegativeInt = { type: 'integer', minimum: 0, 'x-hint': 'an integer >= 0' } as const;
/** -1 = unlimited. */
export const limitInt = { type: 'integer', minimum: -1, 'x-hint': 'an integer >= 0, or -1 for no limit' } as const;

const requestClientCert = { enum: [false, true, 'require'], 'x-hint': 'one of false, true, require' } as const;

/** A listener's own `tls:` keys: no defaults, so an absent key falls back to the global `tls:` key. */
export const listenerTlsSchema = {
  type: 'object',
  additionalProperties: false,
  default: {},
  description: "TLS settings overriding the global tls section's keys one by one for this listener",
  properties: { cert: nullableString, key: nullableString, ca: nullableString, requestClientCert },
} as const;

/** The global `tls:` section. */
export const tlsSchema = {
  type: 'object',
  additionalProperties: false,
  default: {},
  properties: {
    cert: { ...nullableString, default: null },
    key: { ...nullableString, default: null },
    ca: { ...nullableString, default: null },
    requestClientCert: { ...requestClientCert, default: false },
  },
} as const;

/**
 * Builds a listener section's schema: `port` (and `tlsPort` when the protocol has a separate TLS
 * port), the listener's `tls:` and the section's own keys. Unknown keys are refused.
 */
export function listenerSection<const P extends object, const E extends Record<string, object>>(ports: P, extra: E) {
  return {
    type: 'object',
    additionalProperties: false,
    default: {},
    properties: { ...ports, tls: listenerTlsSchema, ...extra },
  } as const;
}
