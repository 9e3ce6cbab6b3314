/** Test helpers for the admin API, metrics and console: an HTTP client over loopback. */
import type { IncomingHttpHeaders } from 'node:http';
import { request } from 'node:http';
import { startBroker, TEST_HOST, type RunningBroker, type StartOptions } from '../support/index.js';

export interface Reply {
  status: number;
  headers: IncomingHttpHeaders;
  text: string;
  /** The body parsed as JSON (undefined when empty or not JSON). */
  json: any; // eslint-disable-line @typescript-eslint/no-explicit-any -- test convenience
}

export interface CallOptions {
  /** A JSON body (serialised, with content-type application/json unless headers say otherwise). */
  body?: unknown;
  /** Raw body bytes, sent as they are. */
  raw?: Buffer | string;
  headers?: Record<string, string>;
  /** HTTP Basic credentials. */
  auth?: { user: string; password: string };
}

/** One HTTP request to the broker's HTTP listener. */
export function call(b: RunningBroker, method: string, path: string, opts: CallOptions = {}): Promise<Reply> {
  const headers: Record<string, string> = { ...(opts.headers ?? {}) };
  let payload: Buffer | undefined;
  if (opts.body !== undefined) {
    payload = Buffer.from(JSON.stringify(opts.body));
    headers['content-type'] ??= 'application/json';
  } else if (opts.raw !== undefined) {
    payload = Buffer.from(opts.raw);
  }
  if (payload) headers['content-length'] ??= String(payload.length);
  if (opts.auth) headers.authorization = `Basic ${Buffer.from(`${opts.auth.user}:${opts.auth.password}`).toString('base64')}`;
  return new Promise((resolve, reject) => {
    const req = request({ host: TEST_HOST, port: b.ports.http, method, path, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let json: unknown;
        try {
          json = text ? JSON.parse(text) : undefined;
        } catch {
          json = undefined;
        }
        resolve({ status: res.statusCode!, headers: res.headers, text, json });
      });
    });
    req.on('error', reject);
    req.end(payload);
  });
}

/** A broker with only the HTTP listener (no protocol adapters), in memory. */
export function startAdminBroker(options: StartOptions = {}): Promise<RunningBroker> {
  return startBroker({ protocols: [], ...options });
}

/** `/api/queues/<name>` with the name percent-encoded. */
export const queuePath = (name: string, rest = ''): string => `/api/queues/${encodeURIComponent(name)}${rest}`;
