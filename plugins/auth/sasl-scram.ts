/**
 * The server side of SCRAM-SHA-1/256/512 (RFC 5802, RFC 7677) without channel binding, for every
 * protocol. It needs only the stored keys (never the password): an unknown name gets the
 * credentials' fake keys, so the server-first message has the same shape (salt length, iteration
 * count) and the exchange fails only at the final step, after the same proof computation.
 */
import { randomBytes } from 'node:crypto';
import type { SaslCredentials, SaslOutcome, ScramCredentials, ScramMechanismName } from '../../core/adapter.js';

/** SCRAM messages are short; anything longer is not one (protocol frames bound it anyway). */
const MAX_MESSAGE = 4096;

export interface SaslMechanism {
  start(initial: Buffer | null): Promise<SaslOutcome>;
  step(response: Buffer): Promise<SaslOutcome>;
}

export const saslFail = (reason: Extract<SaslOutcome, { kind: 'failure' }>['reason'], message: string): SaslOutcome =>
  ({ kind: 'failure', reason, message });

/** `saslname` of RFC 5802: ',' and '=' escaped as =2C and =3D; any other '=' is malformed. */
export function unescapeSaslName(s: string): string | null {
  if (/=(?!2C|3D)/.test(s)) return null;
  return s.replace(/=2C/g, ',').replace(/=3D/g, '=');
}

/** `a=value,b=value`: null when a part is not a one-letter attribute. */
function parseAttrs(s: string): Map<string, string> | null {
  const out = new Map<string, string>();
  for (const part of s.split(',')) {
    if (part.length < 2 || part[1] !== '=' || out.has(part[0])) return null;
    out.set(part[0], part.slice(2));
  }
  return out;
}

/** Printable ASCII except ',' (RFC 5802 `printable`). */
const NONCE = /^[\x21-\x2b\x2d-\x7e]+$/;

export class ScramServer implements SaslMechanism {
  private stage: 'first' | 'final' | 'done' = 'first';
  private user = '';
  private gs2 = '';
  private clientFirstBare = '';
  private serverFirst = '';
  private nonce = '';
  private creds: ScramCredentials | null = null;

  constructor(
    private readonly credentials: SaslCredentials,
    private readonly mechanism: ScramMechanismName,
    /** Accepts an authorisation id `user@domain` as the user (XMPP). */
    private readonly domain: string | undefined,
    private readonly remote: string | undefined,
  ) {}

  async start(initial: Buffer | null): Promise<SaslOutcome> {
    // No initial response (XMPP, AMQP allow it): an empty challenge asks for the client-first message.
    if (initial === null || initial.length === 0) return { kind: 'challenge', data: Buffer.alloc(0) };
    return this.first(initial);
  }

  async step(response: Buffer): Promise<SaslOutcome> {
    if (this.stage === 'first') return this.first(response);
    if (this.stage === 'final') return this.final(response);
    return saslFail('malformed-request', 'the SCRAM exchange is over');
  }

  private async first(bytes: Buffer): Promise<SaslOutcome> {
    this.stage = 'done';
    if (bytes.length > MAX_MESSAGE) return saslFail('malformed-request', 'SCRAM client-first message too long');
    // gs2-header: cbind-flag "," [authzid] ","; "p=" asks for channel binding, which is not offered.
    const m = /^([ny]|p=[^,]*),(a=[^,]*)?,(.*)$/s.exec(bytes.toString('utf8'));
    if (!m) return saslFail('malformed-request', 'malformed SCRAM client-first message');
    if (m[1].startsWith('p=')) return saslFail('malformed-request', 'channel binding is not supported');
    const attrs = parseAttrs(m[3]);
    const n = attrs?.get('n');
    const r = attrs?.get('r');
    if (!attrs || n === undefined || r === undefined || attrs.has('m') || !NONCE.test(r)) {
      return saslFail('malformed-request', 'SCRAM client-first message lacks n= or r=, or has m=');
    }
    const user = unescapeSaslName(n);
    if (!user) return saslFail('malformed-request', 'bad user name in the SCRAM client-first message');
    if (m[2]) {
      const authzid = unescapeSaslName(m[2].slice(2));
      const ok = authzid === user || (this.domain !== undefined && authzid?.toLowerCase() === `${user.toLowerCase()}@${this.domain}`);
      if (!ok) return saslFail('invalid-authzid', 'the authorisation id differs from the user name');
    }
    this.user = user;
    this.gs2 = `${m[1]},${m[2] ?? ''},`;
    this.clientFirstBare = m[3];
    // A name without keys gets fake ones from the auth plugin; null means the address is refused.
    this.creds = await this.credentials.scramCredentials(user, this.mechanism, this.remote);
    if (!this.creds) return saslFail('not-authorized', `authentication failed for user ${user}`);
    this.nonce = r + randomBytes(18).toString('base64');
    this.serverFirst = `r=${this.nonce},s=${this.creds.salt.toString('base64')},i=${this.creds.iterations}`;
    this.stage = 'final';
    return { kind: 'challenge', data: Buffer.from(this.serverFirst, 'utf8') };
  }

  private async final(bytes: Buffer): Promise<SaslOutcome> {
    this.stage = 'done';
    if (bytes.length > MAX_MESSAGE) return saslFail('malformed-request', 'SCRAM client-final message too long');
    const text = bytes.toString('utf8');
    const at = text.lastIndexOf(',p=');
    const attrs = at < 0 ? null : parseAttrs(text);
    if (!attrs) return saslFail('malformed-request', 'malformed SCRAM client-final message or no proof');
    if (attrs.get('c') !== Buffer.from(this.gs2, 'utf8').toString('base64')) return saslFail('malformed-request', 'SCRAM channel binding data mismatch');
    // The nonce must end with ours: librdkafka 2.0.2 repeats its own nonce in front, and Kafka accepts that.
    if (!(attrs.get('r') ?? '').endsWith(this.nonce)) return saslFail('malformed-request', 'SCRAM nonce mismatch');
    const proof = Buffer.from(attrs.get('p') ?? '', 'base64');
    const authMessage = `${this.clientFirstBare},${this.serverFirst},${text.slice(0, at)}`;
    const ok = await this.credentials.verifyScram(this.user, this.mechanism, this.creds!, authMessage, proof, this.remote);
    if (!ok) return saslFail('not-authorized', `authentication failed for user ${this.user}`);
    return { kind: 'success', principal: ok.principal, data: Buffer.from(`v=${ok.serverSignature.toString('base64')}`, 'utf8') };
  }
}
