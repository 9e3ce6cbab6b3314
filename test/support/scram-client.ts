/**
 * The client side of SCRAM-SHA-1/256/512 (RFC 5802), written from the RFC for tests whose client
 * library carries SASL messages but leaves the mechanism to the application (MQTT.js AUTH packets,
 * rhea's pluggable client mechanisms). It shares no code with the broker's server side.
 */
import { createHash, createHmac, pbkdf2Sync, randomBytes, timingSafeEqual } from 'node:crypto';

const HASH = { 'SCRAM-SHA-1': ['sha1', 20], 'SCRAM-SHA-256': ['sha256', 32], 'SCRAM-SHA-512': ['sha512', 64] } as const;
export type ScramName = keyof typeof HASH;

export interface ServerFirst {
  nonce: string;
  salt: Buffer;
  iterations: number;
  text: string;
}

export function parseServerFirst(data: Buffer | string): ServerFirst {
  const text = data.toString();
  const a = new Map(text.split(',').map((p) => [p[0], p.slice(2)] as [string, string]));
  return { nonce: a.get('r') ?? '', salt: Buffer.from(a.get('s') ?? '', 'base64'), iterations: Number(a.get('i')), text };
}

export class ScramClient {
  readonly clientNonce = randomBytes(16).toString('base64');
  private readonly bare: string;
  private serverSignature: Buffer | null = null;
  serverFirst: ServerFirst | null = null;

  constructor(readonly mechanism: ScramName, user: string, private readonly password: string) {
    this.bare = `n=${user.replace(/=/g, '=3D').replace(/,/g, '=2C')},r=${this.clientNonce}`;
  }

  /** client-first-message (gs2 header "n,," : no channel binding, no authzid). */
  first(): Buffer {
    return Buffer.from(`n,,${this.bare}`);
  }

  /** client-final-message for the server's challenge. */
  final(serverFirstData: Buffer | string): Buffer {
    const sf = (this.serverFirst = parseServerFirst(serverFirstData));
    if (!sf.nonce.startsWith(this.clientNonce)) throw new Error('server nonce does not extend the client nonce');
    const [name, len] = HASH[this.mechanism];
    const salted = pbkdf2Sync(this.password, sf.salt, sf.iterations, len, name);
    const clientKey = createHmac(name, salted).update('Client Key').digest();
    const storedKey = createHash(name).update(clientKey).digest();
    const withoutProof = `c=${Buffer.from('n,,').toString('base64')},r=${sf.nonce}`;
    const authMessage = `${this.bare},${sf.text},${withoutProof}`;
    const signature = createHmac(name, storedKey).update(authMessage).digest();
    const proof = Buffer.alloc(len);
    for (let i = 0; i < len; i++) proof[i] = clientKey[i] ^ signature[i];
    const serverKey = createHmac(name, salted).update('Server Key').digest();
    this.serverSignature = createHmac(name, serverKey).update(authMessage).digest();
    return Buffer.from(`${withoutProof},p=${proof.toString('base64')}`);
  }

  /** True when the server-final message proves the server knew the keys. */
  verify(serverFinal: Buffer | string | undefined): boolean {
    const text = serverFinal?.toString() ?? '';
    if (!text.startsWith('v=') || !this.serverSignature) return false;
    const v = Buffer.from(text.slice(2), 'base64');
    return v.length === this.serverSignature.length && timingSafeEqual(v, this.serverSignature);
  }
}
