/**
 * /api/overview (version, uptime, listeners, counts, rates) and /api/publish (a message into the
 * core, routed by topic like any protocol's publish, or sent straight to one queue).
 */
import { QueueFullError, QueueNotFoundError } from '../../core/queue-types.js';
import type { AdminContext, ApiRequest, ApiRoute } from './api-routes.js';
import { HttpError, readJsonBody, sendJson } from './http-util.js';
import { brokerTotals, type BrokerTotals } from './introspection.js';
import { publishRequest } from './message-json.js';

const RATE_KEYS = ['published', 'delivered', 'acked', 'unroutable', 'streamRecords'] as const;
type RateKey = (typeof RATE_KEYS)[number];
export type Rates = Record<RateKey, number>;

/** Rates shorter than this are not recomputed (the previous ones are given again). */
const MIN_INTERVAL_MS = 1000;

/**
 * Per-second rates from the difference between two samples of the broker's totals, taken when
 * the overview is asked for: no timer runs. A counter that went down (a queue was deleted with
 * its statistics) counts as 0 for that interval.
 */
export class RateTracker {
  private last: { at: number; totals: Pick<BrokerTotals, RateKey> };
  private rates: Rates | null = null;

  constructor(initial: BrokerTotals, now = Date.now()) {
    this.last = { at: now, totals: initial };
  }

  sample(totals: BrokerTotals, now = Date.now()): Rates | null {
    const dt = now - this.last.at;
    if (dt < MIN_INTERVAL_MS) return this.rates;
    const rates = {} as Rates;
    for (const k of RATE_KEYS) rates[k] = Math.round((Math.max(0, totals[k] - this.last.totals[k]) * 1000 / dt) * 100) / 100;
    this.last = { at: now, totals };
    this.rates = rates;
    return rates;
  }
}

export function overviewRoutes(ctx: AdminContext): ApiRoute[] {
  const { broker } = ctx;
  const rates = new RateTracker(brokerTotals(broker));

  const overview = ({ res }: ApiRequest) => {
    const totals = brokerTotals(broker);
    const now = Date.now();
    sendJson(res, 200, {
      version: ctx.version,
      node: process.version,
      startedAt: new Date(ctx.startedAt).toISOString(),
      uptimeSeconds: Math.floor((now - ctx.startedAt) / 1000),
      listeners: ctx.listeners().map((l) => ({ name: l.name, protocol: l.protocol, host: l.host, port: l.port, tls: l.tls, ...(l.path ? { path: l.path } : {}) })),
      counts: {
        queues: totals.queues,
        streams: totals.streams,
        partitions: totals.partitions,
        bindings: totals.bindings,
        consumers: totals.consumers,
        groups: broker.offsets.groups().length,
      },
      /** Client connections open now, per protocol. */
      connections: Object.fromEntries((ctx.connections?.totals() ?? []).map((t) => [t.protocol, t.open])),
      messages: {
        ready: totals.messagesReady,
        unacked: totals.messagesUnacked,
        streamRecords: totals.streamRecords,
        streamBytes: totals.streamBytes,
      },
      unroutable: broker.unroutable,
      /** Per second since the previous overview (null on the first one within a second of start). */
      rates: rates.sample(totals, now),
      store: { pendingBytes: broker.store.pendingBytes },
      auth: { anonymousAllowed: ctx.auth.anonymousAllowed },
    });
  };

  const publish = async ({ req, res }: ApiRequest) => {
    const { target, message } = publishRequest(await readJsonBody(req));
    try {
      if ('topic' in target) {
        const routed = broker.hasRoute(target.topic);
        await broker.publish(message);
        sendJson(res, 200, { topic: target.topic, routed, size: message.payload.length });
      } else {
        await broker.sendToQueue(target.queue, message);
        sendJson(res, 200, { queue: target.queue, routed: true, size: message.payload.length });
      }
    } catch (err) {
      if (err instanceof QueueNotFoundError) throw new HttpError(404, err.message);
      if (err instanceof QueueFullError) throw new HttpError(409, err.message);
      throw err;
    }
  };

  return [
    { path: 'overview', methods: { GET: overview } },
    { path: 'publish', methods: { POST: publish } },
  ];
}
