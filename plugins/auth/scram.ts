/**
 * The server side of a SCRAM proof (RFC 5802 section 3), shared by every adapter, and the fake
 * credentials an unknown user gets. A fake looks like a real entry: a 24-byte salt (as
 * createUserRecord makes), the usual iteration count, and keys derived with HMAC from a server
 * secret that survives restarts, so the salt a name gets is stable, differs per name and cannot be
 * computed from the name alone. No proof matches a fake; checking one costs the same work.
 */
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { SCRAM_HASH, type ScramCredentials, type ScramMechanism } from './passwords.js';

export const SCRAM_SALT_BYTES = 24;
const HASH = SCRAM_HASH;

/** Where the server secret is kept: the broker metadata (journaled with the data directory). */
export interface SecretStore {
  get(ns: string, key: string): Buffer | undefined;
  put(ns: string, key: string, value: Buffer): Promise<void>;
}

export const SECRET_NS = 'auth';
const SECRET_KEY = 'server-secret';

/** The server secret: read from `store`, created there on first start; without a store, one per process. */
export async function loadServerSecret(store: SecretStore | undefined): Promise<Buffer> {
  const kept = store?.get(SECRET_NS, SECRET_KEY);
  if (kept && kept.length >= 32) return kept;
  const secret = randomBytes(32);
  await store?.put(SECRET_NS, SECRET_KEY, secret);
  return secret;
}

function derive(secret: Buffer, purpose: string, mechanism: ScramMechanism, user: string, len: number): Buffer {
  return createHmac('sha512', secret).update(`${purpose}\0${mechanism}\0`).update(user, 'utf8').digest().subarray(0, len);
}

/** Stable fake credentials for a name with no SCRAM keys. */
export function fakeScramCredentials(secret: Buffer, user: string, mechanism: ScramMechanism, iterations: number): ScramCredentials {
  const { len } = HASH[mechanism];
  return {
    salt: derive(secret, 'salt', mechanism, user, SCRAM_SALT_BYTES),
    iterations,
    storedKey: derive(secret, 'stored', mechanism, user, len),
    serverKey: derive(secret, 'server', mechanism, user, len),
  };
}

/**
 * Checks a client proof against stored credentials; returns the server signature (for `v=`) or
 * null. A proof of the wrong length is padded so the work done is the same.
 */
export function checkScramProof(mechanism: ScramMechanism, creds: ScramCredentials, authMessage: string, proof: Buffer): Buffer | null {
  const { name, len } = HASH[mechanism];
  const clientSignature = createHmac(name, creds.storedKey).update(authMessage).digest();
  const clientKey = Buffer.alloc(len);
  for (let i = 0; i < len; i++) clientKey[i] = (proof[i] ?? 0) ^ clientSignature[i];
  const storedKey = createHash(name).update(clientKey).digest();
  const serverSignature = createHmac(name, creds.serverKey).update(authMessage).digest();
  const same = storedKey.length === creds.storedKey.length && timingSafeEqual(storedKey, creds.storedKey);
  return same && proof.length === len ? serverSignature : null;
}
