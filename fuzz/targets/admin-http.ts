/**
 * The admin HTTP API over real HTTP: an in-process broker (in memory, only the HTTP listener) and
 * keep-alive requests built from the input, which reads as a small request text:
 *
 *   METHOD /api/path?query        (first line)
 *   Name: value                   (header lines, until an empty line)
 *   body bytes
 *
 * Parts Node's client refuses (bad method token, bad header characters) are cleaned or dropped;
 * the target is the admin routes, not Node's HTTP parser. Crash: a 500 answer or an error-level
 * log line from the broker. Hang: no answer within 1 s (counted by the engine; the request is
 * abandoned after 5 s).
 */
import { Agent, request, validateHeaderName, validateHeaderValue } from 'node:http';
import { recordingLogger, type LogRecord } from '../../test/support/logger.js';
import { startBroker, type RunningBroker } from '../../test/support/broker.js';
import { CrashError, type FuzzTarget } from '../target.js';

const LINES = [
  'GET /api', 'GET /api/overview', 'GET /api/queues', 'GET /api/queues/q1', 'GET /api/queues/q1/bindings',
  'GET /api/queues/q1/messages?limit=5&maxPayloadBytes=16', 'GET /api/streams', 'GET /api/streams/s1', 'GET /api/groups', 'GET /api/groups/g1',
  'HEAD /api/overview', 'DELETE /api/queues/q2', 'DELETE /api/streams/s2', 'POST /api/queues/q1/purge', 'GET /api/nothing/here',
];
const WITH_BODY: Array<[string, string]> = [
  ['PUT /api/queues/q1', '{"durable":true,"maxLength":100,"ttlMs":60000,"deadLetterQueue":"dlq"}'],
  ['PUT /api/queues/q2', ''],
  ['POST /api/queues/q1/bindings', '{"pattern":"a.*.c"}'],
  ['DELETE /api/queues/q1/bindings', '{"pattern":"a.*.c"}'],
  ['PUT /api/streams/s1', '{"partitions":3,"retentionMs":3600000,"retentionBytes":1048576,"patterns":["s1.#"]}'],
  ['PUT /api/streams/s2', '{"partitions":1}'],
  ['POST /api/publish', '{"topic":"a.b.c","payload":"hello","headers":{"k":"v"},"persistent":true}'],
  ['POST /api/publish', '{"queue":"q1","payload":"aGVsbG8=","encoding":"base64","ttlMs":1000}'],
];

export function adminSeeds(): Buffer[] {
  const out = LINES.map((l) => Buffer.from(`${l}\n\n`));
  for (const [l, b] of WITH_BODY) out.push(Buffer.from(`${l}\nContent-Type: application/json\n\n${b}`));
  out.push(Buffer.from('GET /api/overview\nAuthorization: Basic Z3Vlc3Q6Z3Vlc3Q=\n\n'));
  return out;
}

export const ADMIN_DICTIONARY = ['%', '%00', '%2F', '%zz', '..', '/', '?', '&', '=', '#', '"', '{', '}', '[]', 'null', '-1', '1e308', '9007199254740993', 'NaN',
  '"__proto__"', '"constructor"', 'true', '\u0000', '\uFFFF', 'limit=', 'maxPayloadBytes=', 'Content-Type: text/plain\n', 'Transfer-Encoding: chunked\n']
  .map((s) => Buffer.from(s));

interface ParsedInput { method: string; path: string; headers: Record<string, string>; body: Buffer }

export function parseInput(input: Buffer): ParsedInput {
  let nl = input.indexOf(0x0a);
  if (nl < 0) nl = input.length;
  const first = input.toString('latin1', 0, nl);
  const sp = first.indexOf(' ');
  const rawMethod = sp < 0 ? first : first.slice(0, sp);
  const method = rawMethod.replace(/[^A-Za-z]/g, '').toUpperCase().slice(0, 10) || 'GET';
  const rawPath = sp < 0 ? '/api' : first.slice(sp + 1);
  // Characters Node's client refuses in a path are sent percent-encoded.
  let path = rawPath.replace(/[^\x21-\x7e]/g, (c) => encodeURIComponent(c).replace(/%25/g, '%'));
  if (!path.startsWith('/')) path = '/' + path;
  const headers: Record<string, string> = {};
  let at = nl + 1;
  while (at < input.length) {
    let end = input.indexOf(0x0a, at);
    if (end < 0) end = input.length;
    const line = input.toString('latin1', at, end);
    at = end + 1;
    if (line === '') break;
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    if (name === 'content-length' || name === 'connection' || name === 'host' || name === 'transfer-encoding') continue;
    try {
      validateHeaderName(name);
      validateHeaderValue(name, value);
      headers[name] = value;
    } catch {
      // not a header Node would send
    }
  }
  return { method, path, headers, body: at <= input.length ? input.subarray(Math.min(at, input.length)) : Buffer.alloc(0) };
}

export function adminTarget(): FuzzTarget {
  let broker: RunningBroker | null = null;
  const logs: LogRecord[] = [];
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  let port = 0;
  return {
    name: 'admin-http',
    dictionary: ADMIN_DICTIONARY,
    async seeds() {
      broker = await startBroker({ logger: recordingLogger(logs), protocols: [], ports: { mqtt: 0, amqp: 0, stomp: 0, xmpp: 0, kafka: 0, http: 'auto' } });
      port = broker.ports.http!;
      return adminSeeds();
    },
    run(input: Buffer): Promise<string> {
      const { method, path, headers, body } = parseInput(input);
      const errorsBefore = logs.filter((r) => r.level === 'error').length;
      return new Promise<string>((resolve, reject) => {
        const req = request({ host: '127.0.0.1', port, method, path, headers: { ...headers, 'content-length': String(body.length) }, agent, timeout: 5000 }, (res) => {
          res.resume();
          res.on('end', () => {
            const errors = logs.filter((r) => r.level === 'error');
            if (res.statusCode === 500 || errors.length > errorsBefore) {
              const rec = errors[errors.length - 1];
              reject(new CrashError(new Error(`${method} ${path}: HTTP ${res.statusCode}; log: ${rec ? `${rec.msg} ${JSON.stringify(rec.obj).slice(0, 300)}` : 'none'}`), 'admin API'));
            } else {
              resolve(`${method}:${res.statusCode}`);
            }
          });
          res.on('error', () => resolve('response-error'));
        });
        req.on('timeout', () => req.destroy(new Error('timeout')));
        req.on('error', (err) => resolve(`client:${(err as NodeJS.ErrnoException).code ?? err.message}`));
        req.end(body);
      });
    },
    async close() {
      agent.destroy();
      await broker?.close();
    },
  };
}
