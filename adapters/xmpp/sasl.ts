/**
 * SASL server mechanisms (RFC 6120 section 6): PLAIN (RFC 4616), SCRAM-SHA-1 and SCRAM-SHA-256
 * (RFC 5802 / RFC 7677, without channel binding), ANONYMOUS (RFC 4505). SCRAM needs only the
 * stored keys the auth plugin keeps; unknown users get the plugin's stable fake keys, so the
 * exchange does not reveal which names exist, and the proof is checked by the plugin.
 */
import { randomBytes } from 'node:crypto';
import type { ScramCredentials } from '../../core/adapter.js';
import { Accounts, type ScramMech } from './accounts.js';

export type SaslOutcome =
  | { kind: 'challenge'; data: Buffer }
  | { kind: 'success'; user: string; anonymous: boolean; data?: Buffer }
  | { kind: 'failure'; condition: string; text?: string };

export interface SaslMechanism {
  /** `initial` is null when the client sent no initial response. */
  start(initial: Buffer | null): Promise<SaslOutcome>;
  step(response: Buffer): Promise<SaslOutcome>;
}

const fail = (condition: string, text?: string): SaslOutcome => ({ kind: 'failure', condition, text });

export class PlainMechanism implements SaslMechanism {
  constructor(private readonly accounts: Accounts, private readonly domain: string, private readonly remote?: string) {}

  async start(initial: Buffer | null): Promise<SaslOutcome> {
    if (initial === null) return { kind: 'challenge', data: Buffer.alloc(0) };
    return this.step(initial);
  }

  async step(response: Buffer): Promise<SaslOutcome> {
    const parts = response.toString('utf8').split('\u0000');
    if (parts.length !== 3) return fail('malformed-request');
    const [authzid, authcid, password] = parts;
    if (!authcid || !password) return fail('not-authorized');
    if (authzid && authzid !== authcid && authzid !== `${authcid.toLowerCase()}@${this.domain}`) return fail('invalid-authzid');
    const p = await this.accounts.checkPassword(authcid, password, this.remote);
    if (!p) return fail('not-authorized');
    return { kind: 'success', user: authcid, anonymous: false };
  }
}

export class AnonymousMechanism implements SaslMechanism {
  constructor(private readonly accounts: Accounts) {}

  async start(): Promise<SaslOutcome> {
    const p = await this.accounts.anonymousPrincipal();
    if (!p) return fail('not-authorized');
    return { kind: 'success', user: `anon-${randomBytes(6).toString('hex')}`, anonymous: true };
  }

  step(): Promise<SaslOutcome> {
    return Promise.resolve(fail('malformed-request'));
  }
}

function unescapeSaslName(s: string): string | null {
  if (/=(?!2C|3D)/.test(s)) return null;
  return s.replace(/=2C/g, ',').replace(/=3D/g, '=');
}

function parseAttrs(s: string): Map<string, string> | null {
  const out = new Map<string, string>();
  for (const part of s.split(',')) {
    if (part.length < 2 || part[1] !== '=') return null;
    out.set(part[0], part.slice(2));
  }
  return out;
}

export class ScramMechanism implements SaslMechanism {
  private stage = 0;
  private user = '';
  private gs2 = '';
  private clientFirstBare = '';
  private serverFirst = '';
  private nonce = '';
  private creds: ScramCredentials | null = null;

  constructor(private readonly accounts: Accounts, private readonly mech: ScramMech, private readonly remote?: string) {}

  async start(initial: Buffer | null): Promise<SaslOutcome> {
    if (initial === null || initial.length === 0) return { kind: 'challenge', data: Buffer.alloc(0) };
    return this.first(initial.toString('utf8'));
  }

  async step(response: Buffer): Promise<SaslOutcome> {
    const text = response.toString('utf8');
    if (this.stage === 0) return this.first(text);
    if (this.stage === 1) return this.final(text);
    return fail('malformed-request');
  }

  private async first(msg: string): Promise<SaslOutcome> {
    // gs2-header: cbind-flag "," [authzid] ","
    const m = /^([ny]|p=[^,]*),(a=[^,]*)?,(.*)$/s.exec(msg);
    if (!m) return fail('malformed-request');
    if (m[1].startsWith('p=')) return fail('malformed-request', 'channel binding is not supported');
    this.gs2 = `${m[1]},${m[2] ?? ''},`;
    this.clientFirstBare = m[3];
    const attrs = parseAttrs(m[3]);
    const n = attrs?.get('n');
    const r = attrs?.get('r');
    if (!attrs || n === undefined || !r || attrs.has('m')) return fail('malformed-request');
    const user = unescapeSaslName(n);
    if (!user) return fail('malformed-request');
    this.user = user;
    if (m[2]) {
      const authzid = unescapeSaslName(m[2].slice(2));
      if (authzid !== user && !authzid?.startsWith(`${user.toLowerCase()}@`)) return fail('invalid-authzid');
    }
    this.creds = await this.accounts.scramCredentials(user, this.mech, this.remote);
    if (!this.creds) return fail('not-authorized');
    this.nonce = r + randomBytes(18).toString('base64');
    this.serverFirst = `r=${this.nonce},s=${this.creds.salt.toString('base64')},i=${this.creds.iterations}`;
    this.stage = 1;
    return { kind: 'challenge', data: Buffer.from(this.serverFirst, 'utf8') };
  }

  private async final(msg: string): Promise<SaslOutcome> {
    this.stage = 2;
    const pIndex = msg.lastIndexOf(',p=');
    if (pIndex < 0) return fail('malformed-request');
    const withoutProof = msg.slice(0, pIndex);
    const attrs = parseAttrs(msg);
    if (!attrs) return fail('malformed-request');
    const c = attrs.get('c');
    const r = attrs.get('r');
    const proof = Buffer.from(attrs.get('p') ?? '', 'base64');
    if (c !== Buffer.from(this.gs2, 'utf8').toString('base64')) return fail('malformed-request', 'channel binding data mismatch');
    if (r !== this.nonce) return fail('malformed-request', 'nonce mismatch');
    const authMessage = `${this.clientFirstBare},${this.serverFirst},${withoutProof}`;
    const ok = await this.accounts.verifyScram(this.user, this.mech, this.creds!, authMessage, proof, this.remote);
    if (!ok) return fail('not-authorized');
    return { kind: 'success', user: this.user, anonymous: false, data: Buffer.from(`v=${ok.toString('base64')}`, 'utf8') };
  }
}

/** `remote`: the client's IP address, for the auth plugin's per-address failure limit. */
export function createMechanism(name: string, accounts: Accounts, domain: string, remote?: string): SaslMechanism | null {
  switch (name) {
    case 'PLAIN': return new PlainMechanism(accounts, domain, remote);
    case 'SCRAM-SHA-1': return new ScramMechanism(accounts, 'SCRAM-SHA-1', remote);
    case 'SCRAM-SHA-256': return new ScramMechanism(accounts, 'SCRAM-SHA-256', remote);
    case 'ANONYMOUS': return new AnonymousMechanism(accounts);
    default: return null;
  }
}
