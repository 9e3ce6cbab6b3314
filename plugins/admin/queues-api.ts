/**
 * /api/queues: list, inspect, declare (PUT), delete, bind and unbind, purge, and peek at ready
 * messages without consuming them.
 */
import { checkTopicPattern } from '../../core/names.js';
import type { Queue } from '../../core/queue.js';
import type { QueueOptions } from '../../core/queue-types.js';
import type { AdminContext, ApiRequest, ApiRoute } from './api-routes.js';
import { HttpError, intParam, readJsonBody, sendJson } from './http-util.js';
import { summariseQueue, sortedQueues } from './introspection.js';
import { peekedMessage } from './message-json.js';

type DeclareOptions = Partial<Pick<QueueOptions, 'durable' | 'maxLength' | 'maxBytes' | 'overflow' | 'messageTtl' | 'maxDeliveries' | 'deadLetterQueue' | 'deadLetterOnExpiry' | 'priorities'>>;

const OVERFLOW = ['block', 'drop-head', 'reject'];
const COUNT_KEYS = ['maxLength', 'maxBytes', 'messageTtl', 'maxDeliveries'] as const;
const FLAG_KEYS = ['durable', 'deadLetterOnExpiry', 'priorities'] as const;
const DECLARE_KEYS = new Set<string>([...FLAG_KEYS, 'overflow', 'deadLetterQueue', ...COUNT_KEYS]);

/** Validates a PUT body into queue options (only the keys given). */
export function declareOptions(body: Record<string, unknown>): DeclareOptions {
  const out: DeclareOptions = {};
  for (const [k, v] of Object.entries(body)) {
    if (!DECLARE_KEYS.has(k)) throw new HttpError(400, `unknown queue option "${k}" (allowed: ${[...DECLARE_KEYS].join(', ')})`);
    if ((FLAG_KEYS as readonly string[]).includes(k)) {
      if (typeof v !== 'boolean') throw new HttpError(400, `${k} must be true or false`);
      out[k as (typeof FLAG_KEYS)[number]] = v;
    } else if (k === 'overflow') {
      if (typeof v !== 'string' || !OVERFLOW.includes(v)) throw new HttpError(400, `overflow must be one of ${OVERFLOW.join(', ')}`);
      out.overflow = v as QueueOptions['overflow'];
    } else if (k === 'deadLetterQueue') {
      if (typeof v !== 'string' || v.length > 1024 || v.includes('\u0000')) throw new HttpError(400, 'deadLetterQueue must be a queue name, or "" for none');
      out.deadLetterQueue = v;
    } else {
      if (!Number.isSafeInteger(v) || (v as number) < 0) throw new HttpError(400, `${k} must be an integer >= 0 (0 = no limit)`);
      out[k as (typeof COUNT_KEYS)[number]] = v as number;
    }
  }
  return out;
}

function checkQueueName(name: string): void {
  if (name.length === 0 || name.length > 1024 || name.includes('\u0000')) throw new HttpError(400, 'a queue name is 1 to 1024 characters, without NUL');
}

export function queueRoutes(ctx: AdminContext): ApiRoute[] {
  const { broker } = ctx;

  const requireQueue = (name: string): Queue => {
    const q = broker.getQueue(name);
    if (!q) throw new HttpError(404, `queue ${JSON.stringify(name)} does not exist`);
    return q;
  };

  const queueDetail = (q: Queue) => ({
    ...summariseQueue(broker, q),
    consumerDetails: q.consumers.map((c) => ({
      id: c.id,
      prefetch: c.options.prefetch,
      autoAck: c.options.autoAck,
      creditMode: c.options.creditMode,
      credit: c.availableCredit,
      unacked: c.unackedCount,
      owner: c.options.owner ?? null,
    })),
  });

  const list = ({ res, query }: ApiRequest) => {
    const filter = query.get('name') ?? '';
    const offset = intParam(query, 'offset', 0, 0, Number.MAX_SAFE_INTEGER);
    const limit = intParam(query, 'limit', 1000, 1, 10000);
    const all = sortedQueues(broker).filter((q) => filter === '' || q.name.includes(filter));
    const page = all.slice(offset, offset + limit);
    sendJson(res, 200, { total: all.length, offset, limit, queues: page.map((q) => summariseQueue(broker, q)) });
  };

  const declare = async ({ req, res, params }: ApiRequest) => {
    checkQueueName(params.name);
    const wanted = declareOptions(await readJsonBody(req, { optional: true }));
    const existing = broker.getQueue(params.name);
    if (existing) {
      const differing = Object.entries(wanted).filter(([k, v]) => existing.options[k as keyof QueueOptions] !== v).map(([k]) => k);
      if (differing.length) throw new HttpError(409, `queue ${JSON.stringify(params.name)} exists with different ${differing.join(', ')}`);
      return sendJson(res, 200, queueDetail(existing));
    }
    const q = await broker.declareQueue(params.name, { durable: true, ...wanted });
    sendJson(res, 201, queueDetail(q), { location: `/api/queues/${encodeURIComponent(q.name)}` });
  };

  const remove = async ({ res, params }: ApiRequest) => {
    if (!(await broker.deleteQueue(params.name))) throw new HttpError(404, `queue ${JSON.stringify(params.name)} does not exist`);
    sendJson(res, 204, null);
  };

  const bindings = ({ res, params }: ApiRequest) => {
    requireQueue(params.name);
    sendJson(res, 200, {
      queue: params.name,
      bindings: broker.bindingsOf(params.name).map((b) => ({ pattern: b.pattern, noLocal: b.noLocalOwner !== undefined, args: b.args ?? {} })),
    });
  };

  const bind = async ({ req, res, params }: ApiRequest) => {
    requireQueue(params.name);
    const body = await readJsonBody(req);
    for (const k of Object.keys(body)) if (k !== 'pattern') throw new HttpError(400, `unknown field "${k}"`);
    const pattern = body.pattern;
    if (typeof pattern !== 'string') throw new HttpError(400, 'pattern must be a string');
    checkTopicPattern(pattern);
    const existed = broker.bindingsOf(params.name).some((b) => b.pattern === pattern);
    if (!existed) await broker.bindQueue(params.name, pattern);
    sendJson(res, existed ? 200 : 201, { queue: params.name, pattern });
  };

  const unbind = async ({ res, params, query }: ApiRequest) => {
    requireQueue(params.name);
    const pattern = query.get('pattern');
    if (pattern === null || pattern === '') throw new HttpError(400, 'give the binding as ?pattern=... (percent-encode # as %23)');
    if (!broker.bindingsOf(params.name).some((b) => b.pattern === pattern)) {
      throw new HttpError(404, `queue ${JSON.stringify(params.name)} has no binding ${JSON.stringify(pattern)}`);
    }
    await broker.unbindQueue(params.name, pattern);
    sendJson(res, 204, null);
  };

  const purge = ({ res, params }: ApiRequest) => {
    const purged = requireQueue(params.name).purge();
    sendJson(res, 200, { queue: params.name, purged });
  };

  const peek = async ({ res, params, query }: ApiRequest) => {
    const q = requireQueue(params.name);
    // ?from=&count= pages through the queue in delivery order (priority, then FIFO); limit is count's older name.
    const from = intParam(query, 'from', 0, 0, Number.MAX_SAFE_INTEGER);
    const limit = query.has('count') ? intParam(query, 'count', 20, 1, 500) : intParam(query, 'limit', 20, 1, 500);
    const maxPayloadBytes = intParam(query, 'maxPayloadBytes', 64 * 1024, 0, 1024 * 1024);
    // Bounded reply: stop once the payloads shown pass 16 MiB.
    let budget = 16 * 1024 * 1024;
    const messages = [];
    for (const { entry, message } of await q.peekMessages(limit, from)) {
      if (budget <= 0) break;
      budget -= Math.min(message.payload.length, maxPayloadBytes);
      messages.push(peekedMessage(entry, message, maxPayloadBytes));
    }
    sendJson(res, 200, { queue: q.name, messagesReady: q.messageCount, from, messages });
  };

  return [
    { path: 'queues', methods: { GET: list } },
    { path: 'queues/:name', methods: { GET: ({ res, params }) => sendJson(res, 200, queueDetail(requireQueue(params.name))), PUT: declare, DELETE: remove } },
    { path: 'queues/:name/bindings', methods: { GET: bindings, POST: bind, DELETE: unbind } },
    { path: 'queues/:name/purge', methods: { POST: purge } },
    { path: 'queues/:name/messages', methods: { GET: peek } },
  ];
}
