/**
 * Server side of the SASL mechanisms Kafka clients use: PLAIN (RFC 4616) and SCRAM-SHA-256/512
 * (RFC 5802 / 7677), checked through the auth plugin. One exchange per connection; the tokens
 * arrive in SaslAuthenticate requests or, after a v0-style handshake (kafka-python), bare.
 */
import { randomBytes } from 'node:crypto';
import type { AuthPlugin, Principal, ScramCredentials } from '../../core/adapter.js';

export interface SaslStep {
  /** Bytes for the client (empty when the mechanism has nothing to say). */
  response: Buffer;
  /** Set when the exchange succeeded. */
  principal?: Principal;
  /** Set when it failed: the reason, for the client and the log. */
  error?: string;
}

export interface SaslExchange {
  readonly mechanism: string;
  step(token: Buffer): Promise<SaslStep>;
}

/** `remote`: the client's IP address, for the auth plugin's per-address failure limit. */
export function createSaslExchange(mechanism: string, auth: AuthPlugin, remote?: string): SaslExchange | null {
  if (mechanism === 'PLAIN') return new PlainExchange(auth, remote);
  if (mechanism === 'SCRAM-SHA-256' || mechanism === 'SCRAM-SHA-512') return new ScramExchange(auth, mechanism, remote);
  return null;
}

const EMPTY = Buffer.alloc(0);

class PlainExchange implements SaslExchange {
  readonly mechanism = 'PLAIN';
  private done = false;
  constructor(private readonly auth: AuthPlugin, private readonly remote?: string) {}

  async step(token: Buffer): Promise<SaslStep> {
    if (this.done) return { response: EMPTY, error: 'PLAIN takes one message' };
    this.done = true;
    const parts = token.toString('utf8').split('\u0000');
    if (parts.length !== 3) return { response: EMPTY, error: 'malformed PLAIN message' };
    const [authzid, user, password] = parts;
    if (authzid !== '' && authzid !== user) return { response: EMPTY, error: 'authorization id differs from the user name' };
    if (user === '') return { response: EMPTY, error: 'empty user name' };
    const principal = await this.auth.authenticate('kafka', user, password, this.remote);
    if (!principal || principal.anonymous) return { response: EMPTY, error: `authentication failed for user ${user}` };
    return { response: EMPTY, principal };
  }
}

function unescapeName(s: string): string {
  return s.replace(/=2C/g, ',').replace(/=3D/g, '=');
}

function attrs(message: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const part of message.split(',')) {
    const eq = part.indexOf('=');
    if (eq === 1) out.set(part[0], part.slice(2));
  }
  return out;
}

class ScramExchange implements SaslExchange {
  private stage: 'first' | 'final' | 'done' = 'first';
  private user = '';
  private creds: ScramCredentials | null = null;
  private clientFirstBare = '';
  private serverFirst = '';
  private nonce = '';
  private gs2 = '';

  constructor(private readonly auth: AuthPlugin, readonly mechanism: 'SCRAM-SHA-256' | 'SCRAM-SHA-512', private readonly remote?: string) {}

  async step(token: Buffer): Promise<SaslStep> {
    const text = token.toString('utf8');
    if (this.stage === 'first') return this.first(text);
    if (this.stage === 'final') return this.final(text);
    return { response: EMPTY, error: 'SCRAM exchange already finished' };
  }

  private async first(text: string): Promise<SaslStep> {
    // gs2-header: "n,," (no channel binding) optionally with "a=authzid"
    const m = /^([nyp][^,]*),(a=[^,]*)?,(.*)$/.exec(text);
    if (!m || m[1].startsWith('p')) return this.fail('malformed or channel-bound SCRAM client-first message');
    this.gs2 = `${m[1]},${m[2] ?? ''},`;
    this.clientFirstBare = m[3];
    const a = attrs(this.clientFirstBare);
    const user = a.get('n');
    const clientNonce = a.get('r');
    if (!user || !clientNonce) return this.fail('SCRAM client-first message lacks n= or r=');
    this.user = unescapeName(user);
    // An unknown user gets stable fake credentials from the auth plugin: names cannot be probed.
    this.creds = await this.auth.scramCredentials(this.user, this.mechanism, this.remote);
    if (!this.creds) return this.fail(`authentication failed for user ${this.user}`);
    this.nonce = clientNonce + randomBytes(18).toString('base64').replace(/[=,]/g, '');
    this.serverFirst = `r=${this.nonce},s=${this.creds.salt.toString('base64')},i=${this.creds.iterations}`;
    this.stage = 'final';
    return { response: Buffer.from(this.serverFirst, 'utf8') };
  }

  private async final(text: string): Promise<SaslStep> {
    this.stage = 'done';
    const at = text.lastIndexOf(',p=');
    if (at < 0) return this.fail('SCRAM client-final message lacks a proof');
    const withoutProof = text.slice(0, at);
    const a = attrs(text);
    // Kafka accepts a final nonce that ends with the server's (librdkafka 2.0.2 repeats its own nonce in front).
    if (!(a.get('r') ?? '').endsWith(this.nonce)) return this.fail('SCRAM nonce mismatch');
    if (a.get('c') !== Buffer.from(this.gs2, 'utf8').toString('base64')) return this.fail('SCRAM channel binding mismatch');
    const proof = Buffer.from(a.get('p') ?? '', 'base64');
    const authMessage = `${this.clientFirstBare},${this.serverFirst},${withoutProof}`;
    const ok = await this.auth.verifyScram('kafka', this.user, this.mechanism, this.creds!, authMessage, proof, this.remote);
    if (!ok) return this.fail(`authentication failed for user ${this.user}`);
    return { response: Buffer.from(`v=${ok.serverSignature.toString('base64')}`, 'utf8'), principal: ok.principal };
  }

  private fail(error: string): SaslStep {
    this.stage = 'done';
    return { response: EMPTY, error };
  }
}
