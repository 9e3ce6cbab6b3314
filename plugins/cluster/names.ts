/**
 * How Junction names map onto JetStream: stream names allow no '.', '*', '>' or spaces, KV keys
 * only `[-/_=.a-zA-Z0-9]`. Every encoding here is reversible and collision-free.
 */
import { createHash } from 'node:crypto';

export const BUCKET_META = 'junction-meta';
export const BUCKET_NODES = 'junction-nodes';
export const BUCKET_LEADERS = 'junction-leaders';
export const BUCKET_QUEUE_OWNERS = 'junction-queue-owners';
export const BUCKET_INTEREST = 'junction-interest';
/** The JetStream stream journaling every shared queue's messages, one subject per queue. */
export const QUEUES_STREAM = 'JUNCTION_QUEUES';
const QUEUE_SUBJECT_PREFIX = 'junction.q.';
export const QUEUE_SUBJECTS = `${QUEUE_SUBJECT_PREFIX}>`;

/** Letters, digits and '-' stay; every other byte becomes `_XX` (so '_' itself is `_5F`). */
function escape(name: string): string {
  let out = '';
  for (const byte of Buffer.from(name, 'utf8')) {
    const c = String.fromCharCode(byte);
    out += /[A-Za-z0-9-]/.test(c) ? c : `_${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

function unescape(token: string): string {
  return Buffer.from(token.replace(/_([0-9A-F]{2})|([A-Za-z0-9-])/g, (_m, hex: string | undefined, c: string | undefined) => (hex ? `%${hex}` : `%${c!.charCodeAt(0).toString(16).padStart(2, '0')}`))
    .split('%').slice(1).map((h) => parseInt(h, 16))).toString('utf8');
}

/** The subject a shared queue's messages are journaled on. */
export function queueSubject(queue: string): string {
  return QUEUE_SUBJECT_PREFIX + escape(queue);
}

export function queueOfSubject(subject: string): string | null {
  return subject.startsWith(QUEUE_SUBJECT_PREFIX) ? unescape(subject.slice(QUEUE_SUBJECT_PREFIX.length)) : null;
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

/** KV key of a shared queue's owner record. */
export function ownerKey(queue: string): string {
  return b64(queue);
}

export function queueOfOwnerKey(key: string): string {
  return unb64(key);
}

/** KV key of a partition's leader record. */
export function leaderKey(stream: string, partition: number): string {
  return `${b64(stream)}.${partition}`;
}

/**
 * The JetStream message id of a publish that carries a publisher's idempotency key
 * (Message.publishId), per place it is written (a shared queue, the fan-out): JetStream drops a
 * repeat within its duplicate window (two minutes).
 */
export function dedupeMsgId(publishId: string | undefined, place: string): string | undefined {
  return publishId === undefined ? undefined : createHash('sha256').update(`${publishId}\u0000${place}`).digest('base64url');
}
