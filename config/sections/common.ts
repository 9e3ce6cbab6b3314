/**
 * Schema fragments shared by the configuration sections. Each section (config/sections/<name>.ts)
 * exports its TypeScript interface and its JSON Schema side by side, so a protocol adapter adds a
 * key by editing one small file (plus config/default.yaml and docs/configuration.md).
 *
 * `x-hint` is an annotation read by config/load.ts: it is the "what is allowed" half of the
 * one-line error printed when a value fails validation.
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

/** Keys every listener section has. Protocol sections may carry more (adapters add them). */
export interface ListenerSection {
  /** TCP port. 0 disables the listener; -1 binds an ephemeral port (also written "auto"). */
  port: number;
  tls?: TlsSettings;
}

export const PORT_HINT =
  'an integer from 0 to 65535 (0 disables the listener, -1 or "auto" binds an ephemeral port)';

export const portSchema = { type: 'integer', minimum: -1, maximum: 65535, 'x-hint': PORT_HINT } as const;

export const nullableString = { type: ['string', 'null'], 'x-hint': 'a string or null' } as const;

export const positiveInt = { type: 'integer', minimum: 1, 'x-hint': 'a positive integer' } as const;
export const nonNegativeInt = { type: 'integer', minimum: 0, 'x-hint': 'an integer >= 0' } as const;
/** -1 = unlimited. */
export const limitInt = { type: 'integer', minimum: -1, 'x-hint': 'an integer >= 0, or -1 for no limit' } as const;

export const tlsSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    cert: nullableString,
    key: nullableString,
    ca: nullableString,
    requestClientCert: { enum: [false, true, 'require'], 'x-hint': 'one of false, true, require' },
  },
} as const;

/** Builds a listener section schema; `extra` lists the section's own keys. */
export function listenerSchema(extra: Record<string, object>, additionalProperties: boolean) {
  return {
    type: 'object',
    additionalProperties,
    required: ['port'],
    properties: { port: portSchema, tls: tlsSchema, ...extra },
  } as const;
}
