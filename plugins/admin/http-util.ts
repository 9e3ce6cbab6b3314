/**
 * Small HTTP helpers for the admin API: JSON replies, JSON errors, bounded JSON request bodies,
 * path segments (percent-decoded one by one, so a queue name may hold '/', '.', ':' or '@' when
 * encoded) and query parameters.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';

/** Largest request body the admin API reads. */
export const MAX_BODY_BYTES = 1024 * 1024;

/** An error that becomes a JSON reply `{ error }` with this status. */
export class HttpError extends Error {
  constructor(readonly status: number, message: string, readonly headers: Record<string, string> = {}) {
    super(message);
  }
}

const SECURITY_HEADERS = {
  'cache-control': 'no-store',
  'x-content-type-options': 'nosniff',
};

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  if (status === 204) {
    res.writeHead(204, { ...SECURITY_HEADERS, ...headers });
    res.end();
    return;
  }
  const text = JSON.stringify(body, jsonReplacer);
  res.writeHead(status, {
    ...SECURITY_HEADERS,
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    ...headers,
  });
  res.end(res.req.method === 'HEAD' ? undefined : text);
}

export function sendError(res: ServerResponse, status: number, message: string, headers: Record<string, string> = {}): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  sendJson(res, status, { error: message }, headers);
}

/** bigint as a decimal string, Buffer as base64 (JSON.stringify would give `{type, data}`). */
function jsonReplacer(_key: string, value: unknown): unknown {
  if (typeof value === 'bigint') return value.toString();
  if (value && typeof value === 'object' && (value as { type?: unknown }).type === 'Buffer' && Array.isArray((value as { data?: unknown }).data)) {
    return { base64: Buffer.from((value as { data: number[] }).data).toString('base64') };
  }
  return value;
}

/**
 * Reads a JSON object body of at most `limit` bytes. An empty body gives `{}` when `optional`.
 * Refuses other content types (415), oversize bodies (413), malformed JSON and non-objects (400).
 */
export async function readJsonBody(req: IncomingMessage, opts: { optional?: boolean; limit?: number } = {}): Promise<Record<string, unknown>> {
  const limit = opts.limit ?? MAX_BODY_BYTES;
  const declared = req.headers['content-length'];
  if (declared !== undefined && Number(declared) > limit) {
    lingerThenClose(req);
    throw new HttpError(413, `request body is larger than ${limit} bytes`);
  }
  const chunks = await readBounded(req, limit);
  const size = chunks.reduce((n, c) => n + c.length, 0);
  if (size === 0) {
    if (opts.optional) return {};
    throw new HttpError(400, 'a JSON object body is required');
  }
  const type = (req.headers['content-type'] ?? '').split(';')[0].trim().toLowerCase();
  if (type !== 'application/json' && !/^application\/[a-z0-9.+-]+\+json$/.test(type)) {
    throw new HttpError(415, 'the body must be JSON (content-type: application/json)');
  }
  let value: unknown;
  try {
    value = JSON.parse(Buffer.concat(chunks, size).toString('utf8'));
  } catch {
    throw new HttpError(400, 'the body is not valid JSON');
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new HttpError(400, 'the body must be a JSON object');
  return value as Record<string, unknown>;
}

export interface ParsedTarget {
  /** Percent-decoded path segments after the mount prefix. */
  segments: string[];
  query: URLSearchParams;
}

/** Splits a request target into decoded segments below `prefix` (e.g. '/api') and its query. */
export function parseTarget(url: string | undefined, prefix: string): ParsedTarget {
  const target = url ?? '/';
  const q = target.indexOf('?');
  const rawPath = q >= 0 ? target.slice(0, q) : target;
  const query = new URLSearchParams(q >= 0 ? target.slice(q + 1) : '');
  if (!rawPath.startsWith(prefix)) throw new HttpError(404, 'not found');
  const rest = rawPath.slice(prefix.length);
  const parts = rest.split('/').filter((s, i, all) => !(s === '' && (i === 0 || i === all.length - 1)));
  const segments = parts.map((s) => {
    try {
      return decodeURIComponent(s);
    } catch {
      throw new HttpError(400, 'malformed percent-encoding in the path');
    }
  });
  return { segments, query };
}

/** An integer query parameter within [min, max], or the default when absent. */
export function intParam(query: URLSearchParams, name: string, dflt: number, min: number, max: number): number {
  const raw = query.get(name);
  if (raw === null || raw === '') return dflt;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) throw new HttpError(400, `${name} must be an integer from ${min} to ${max}`);
  return n;
}

/**
 * Collects the body up to `limit` bytes. Past it, stops reading and rejects with 413; the reply
 * then closes the connection (see closeIfUnread) instead of reading the rest.
 */
function readBounded(req: IncomingMessage, limit: number): Promise<Buffer[]> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const cleanup = () => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        cleanup();
        lingerThenClose(req);
        reject(new HttpError(413, `request body is larger than ${limit} bytes`));
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = () => {
      cleanup();
      resolve(chunks);
    };
    const onError = (err: Error) => {
      cleanup();
      reject(err);
    };
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
  });
}

/** Bytes of an oversize body read and dropped after the 413, before the connection is cut. */
const LINGER_BYTES = 8 * 1024 * 1024;

/**
 * Keeps reading (and dropping) what the client still sends, so closing the connection after the
 * 413 does not reset it before the client has read the reply (as nginx's lingering close);
 * past LINGER_BYTES the connection is cut. The listener's request timeout bounds the time.
 */
function lingerThenClose(req: IncomingMessage): void {
  let dropped = 0;
  req.on('data', (chunk: Buffer) => {
    dropped += chunk.length;
    if (dropped > LINGER_BYTES) req.destroy();
  });
  req.on('error', () => undefined);
}

/** A reply sent before the request body was read ends the connection rather than reading the rest. */
export function closeIfUnread(req: IncomingMessage, res: ServerResponse): void {
  if (req.complete || res.headersSent) return;
  res.setHeader('connection', 'close');
}
