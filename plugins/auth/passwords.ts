/**
 * Password hashing (scrypt, `scrypt$N$r$p$salt$hash`, base64 fields) and the SCRAM keys of
 * RFC 5802 / RFC 7677 precomputed from the password (`iterations$salt$storedKey$serverKey`), so
 * the broker never keeps a password and SCRAM servers (Kafka, XMPP) need no password either.
 */
import { createHash, createHmac, pbkdf2 as pbkdf2Cb, randomBytes, scrypt as scryptCb, timingSafeEqual } from 'node:crypto';
import { promisify } from 'node:util';

const scrypt = promisify(scryptCb) as (pw: Buffer, salt: Buffer, len: number, opts: object) => Promise<Buffer>;
const pbkdf2 = promisify(pbkdf2Cb);

export type ScramMechanism = 'SCRAM-SHA-1' | 'SCRAM-SHA-256' | 'SCRAM-SHA-512';
export const SCRAM_MECHANISMS: ScramMechanism[] = ['SCRAM-SHA-1', 'SCRAM-SHA-256', 'SCRAM-SHA-512'];
/** The hash of each SCRAM mechanism and its output length in bytes. */
export const SCRAM_HASH: Record<ScramMechanism, { name: string; len: number }> = {
  'SCRAM-SHA-1': { name: 'sha1', len: 20 },
  'SCRAM-SHA-256': { name: 'sha256', len: 32 },
  'SCRAM-SHA-512': { name: 'sha512', len: 64 },
};

export interface ScramCredentials {
  salt: Buffer;
  iterations: number;
  storedKey: Buffer;
  serverKey: Buffer;
}

/** One user's stored credentials, as kept in the users file. */
export interface UserRecord {
  /** `scrypt$N$r$p$salt$hash` */
  password: string;
  /** Per mechanism: `iterations$salt$storedKey$serverKey` (base64). */
  scram?: Partial<Record<ScramMechanism, string>>;
  /** May use the admin API and console whatever the rules say (`junction passwd FILE USER --admin`). */
  admin?: boolean;
  /** Created by XMPP in-band registration: never gets the admin action from a `*` rule or from no rules. */
  registered?: boolean;
}

export interface HashOptions {
  /** scrypt cost (power of two). Default 16384. */
  N?: number;
  r?: number;
  p?: number;
  /** PBKDF2 iterations of the SCRAM keys. Default 4096 (the minimum Kafka accepts). */
  scramIterations?: number;
}

const B64 = 'base64';
const MAXMEM = 256 * 1024 * 1024;

/** Password text as SCRAM hashes it: NFKC approximates SASLprep (ASCII passwords are unchanged). */
function normalise(password: string | Buffer): Buffer {
  return Buffer.isBuffer(password) ? password : Buffer.from(password.normalize('NFKC'), 'utf8');
}

/** Hashes a password into the `scrypt$N$r$p$salt$hash` form. */
export async function hashPassword(password: string | Buffer, opts: HashOptions = {}): Promise<string> {
  const N = opts.N ?? 16384;
  const r = opts.r ?? 8;
  const p = opts.p ?? 1;
  const salt = randomBytes(16);
  const hash = await scrypt(normalise(password), salt, 32, { N, r, p, maxmem: MAXMEM });
  return `scrypt$${N}$${r}$${p}$${salt.toString(B64)}$${hash.toString(B64)}`;
}

export function parseScryptHash(stored: string): { N: number; r: number; p: number; salt: Buffer; hash: Buffer } | null {
  const f = stored.split('$');
  if (f.length !== 6 || f[0] !== 'scrypt') return null;
  const [N, r, p] = [Number(f[1]), Number(f[2]), Number(f[3])];
  if (![N, r, p].every((x) => Number.isInteger(x) && x > 0) || (N & (N - 1)) !== 0 || N > 1 << 20 || r > 64 || p > 16) return null;
  const salt = Buffer.from(f[4], B64);
  const hash = Buffer.from(f[5], B64);
  if (salt.length < 8 || hash.length < 16) return null;
  return { N, r, p, salt, hash };
}

/** Checks a password against a stored scrypt hash in constant time. */
export async function verifyPassword(password: string | Buffer, stored: string): Promise<boolean> {
  const h = parseScryptHash(stored);
  if (!h) return false;
  const derived = await scrypt(normalise(password), h.salt, h.hash.length, { N: h.N, r: h.r, p: h.p, maxmem: MAXMEM });
  return timingSafeEqual(derived, h.hash);
}

/** Derives SCRAM credentials (RFC 5802 section 3) for one mechanism. */
export async function deriveScram(
  password: string | Buffer,
  mechanism: ScramMechanism,
  iterations = 4096,
  salt: Buffer = randomBytes(24),
): Promise<ScramCredentials> {
  const { name, len } = SCRAM_HASH[mechanism];
  const salted = await pbkdf2(normalise(password), salt, iterations, len, name);
  const clientKey = createHmac(name, salted).update('Client Key').digest();
  const storedKey = createHash(name).update(clientKey).digest();
  const serverKey = createHmac(name, salted).update('Server Key').digest();
  return { salt, iterations, storedKey, serverKey };
}

export function formatScram(c: ScramCredentials): string {
  return `${c.iterations}$${c.salt.toString(B64)}$${c.storedKey.toString(B64)}$${c.serverKey.toString(B64)}`;
}

export function parseScram(text: string, mechanism: ScramMechanism): ScramCredentials | null {
  const f = text.split('$');
  if (f.length !== 4) return null;
  const iterations = Number(f[0]);
  const len = SCRAM_HASH[mechanism].len;
  const c = { iterations, salt: Buffer.from(f[1], B64), storedKey: Buffer.from(f[2], B64), serverKey: Buffer.from(f[3], B64) };
  if (!Number.isInteger(iterations) || iterations < 1 || c.salt.length === 0 || c.storedKey.length !== len || c.serverKey.length !== len) return null;
  return c;
}

/** Creates a users-file entry from a password: the scrypt hash and SCRAM keys for every mechanism. */
export async function createUserRecord(password: string | Buffer, opts: HashOptions = {}): Promise<UserRecord> {
  const scram: Partial<Record<ScramMechanism, string>> = {};
  for (const m of SCRAM_MECHANISMS) scram[m] = formatScram(await deriveScram(password, m, opts.scramIterations ?? 4096));
  return { password: await hashPassword(password, opts), scram };
}

