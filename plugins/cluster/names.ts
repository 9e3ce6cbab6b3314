/**
 * How Junction names map onto JetStream: stream names allow no '.', '*', '>' or spaces, KV keys
 * only `[-/_=.a-zA-Z0-9]`. Every encoding here is reversible and collision-free.
 */

export const BUCKET_META = 'junction-meta';
export const BUCKET_NODES = 'junction-nodes';
export const BUCKET_LEADERS = 'junction-leaders';

/** Letters, digits and '-' stay; every other byte becomes `_XX` (so '_' itself is `_5F`). */
function escape(name: string): string {
  let out = '';
  for (const byte of Buffer.from(name, 'utf8')) {
    const c = String.fromCharCode(byte);
    out += /[A-Za-z0-9-]/.test(c) ? c : `_${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

/** The JetStream stream holding one partition of a Junction stream. */
export function partitionStreamName(stream: string, partition: number): string {
  return `JP_${escape(stream)}_${partition}`;
}

export function partitionSubject(stream: string, partition: number): string {
  return `junction.p.${escape(stream)}.${partition}`;
}

/** Prefix of every partition stream of `stream` (deleting a stream lists them). */
export function partitionStreamPrefix(stream: string): string {
  return `JP_${escape(stream)}_`;
}

function b64(s: string): string {
  return 'k' + Buffer.from(s, 'utf8').toString('base64url');
}

function unb64(token: string): string {
  return Buffer.from(token.slice(1), 'base64url').toString('utf8');
}

/** KV key of a metadata entry: `<ns>.<key>`, each token base64url with a leading `k` (never empty). */
export function metaKey(ns: string, key: string): string {
  return `${b64(ns)}.${b64(key)}`;
}

export function parseMetaKey(kvKey: string): { ns: string; key: string } | null {
  const dot = kvKey.indexOf('.');
  if (dot < 0) return null;
  return { ns: unb64(kvKey.slice(0, dot)), key: unb64(kvKey.slice(dot + 1)) };
}

/** KV key of a partition's leader record. */
export function leaderKey(stream: string, partition: number): string {
  return `${b64(stream)}.${partition}`;
}
