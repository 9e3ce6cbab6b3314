/**
 * TLS settings per listener: the global `tls:` section with the listener's own `tls:` keys over
 * it (a listener may set `cert: null` to stay plain). Files are read once at start; a missing or
 * unreadable file, or a certificate that does not fit its key, is a ConfigError naming the key.
 * A listener without a certificate has no TLS variant (its TLS port is not opened). The HTTP
 * listener is the exception: it serves HTTPS only when `http.tls.cert` itself is set.
 */
import { readFileSync } from 'node:fs';
import { createSecureContext, type TlsOptions } from 'node:tls';
import { ConfigError } from '../config/errors.js';
import type { JunctionConfig, TlsSettings } from '../config/schema.js';

export const TLS_LISTENERS = ['mqtt', 'amqp', 'stomp', 'xmpp', 'kafka', 'http'] as const;

interface Resolved {
  settings: TlsSettings;
  /** Key each setting came from, for error messages (`mqtt.tls.cert` or `tls.cert`). */
  from: Record<keyof TlsSettings, string>;
}

function sectionTls(config: JunctionConfig, listener: string): TlsSettings | undefined {
  const section = (config as unknown as Record<string, { tls?: TlsSettings } | undefined>)[listener];
  return section?.tls;
}

/** The settings in force for one listener. */
export function effectiveTls(config: JunctionConfig, listener: string): Resolved {
  const own = sectionTls(config, listener) ?? {};
  const settings: TlsSettings = {};
  const from = {} as Resolved['from'];
  for (const k of ['cert', 'key', 'ca', 'requestClientCert'] as const) {
    const mine = own[k] !== undefined;
    (settings as Record<string, unknown>)[k] = mine ? own[k] : config.tls[k];
    from[k] = mine ? `${listener}.tls.${k}` : `tls.${k}`;
  }
  return { settings, from };
}

function pem(value: string, key: string): Buffer {
  if (value.includes('-----BEGIN')) return Buffer.from(value);
  try {
    return readFileSync(value);
  } catch (e) {
    throw new ConfigError(`${key}: cannot read ${value} (${(e as NodeJS.ErrnoException).code ?? String(e)})`, key);
  }
}

/**
 * Node TLS server options for `listener`, or null when no certificate is configured. The object
 * is a SecureContextOptions plus `requestCert` / `rejectUnauthorized` (pass it to tls.createServer,
 * or to new TLSSocket(socket, { isServer: true, ...opts }) for STARTTLS).
 */
export function loadTlsOptions(config: JunctionConfig, listener: string): TlsOptions | null {
  // HTTP serves HTTPS only with its own certificate: health checks and proxies expect plain HTTP.
  if (listener === 'http' && !sectionTls(config, 'http')?.cert) return null;
  const { settings: s, from } = effectiveTls(config, listener);
  if (!s.cert) {
    const plainOnPurpose = s.cert === null && from.cert !== 'tls.cert';
    if (s.key && !plainOnPurpose) throw new ConfigError(`${from.cert} is required when ${from.key} is set`, from.cert);
    return null;
  }
  if (!s.key) throw new ConfigError(`${from.key} is required when ${from.cert} is set`, from.key);
  const opts: TlsOptions = { cert: pem(s.cert, from.cert), key: pem(s.key, from.key) };
  if (s.ca) opts.ca = pem(s.ca, from.ca);
  if (s.requestClientCert) {
    opts.requestCert = true;
    opts.rejectUnauthorized = s.requestClientCert === 'require';
  }
  try {
    createSecureContext(opts);
  } catch (e) {
    throw new ConfigError(`${from.cert}: the certificate, key or CA is not usable (${(e as Error).message})`, from.cert);
  }
  return opts;
}

/** Reads every listener's TLS settings now (errors before anything listens) and serves them by name. */
export function createTlsResolver(config: JunctionConfig): (listener: string) => TlsOptions | null {
  const cache = new Map<string, TlsOptions | null>();
  for (const l of TLS_LISTENERS) cache.set(l, loadTlsOptions(config, l));
  return (listener) => {
    if (!cache.has(listener)) cache.set(listener, loadTlsOptions(config, listener));
    return cache.get(listener)!;
  };
}
