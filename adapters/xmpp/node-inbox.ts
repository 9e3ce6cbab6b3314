/**
 * Stanzas between the nodes of a cluster: each node's hub reads its own core queue
 * `xmpp.node.<node id>` (not durable and exclusive to the hub, so it stays on its node and is not a
 * shared queue), and a hub that must reach a user connected to node N sends the stanza into
 * `xmpp.node.N` with `broker.sendToQueue`: the core hands it to the node that has the queue
 * (core/cluster.ts PeerLink.sendToQueue) and the send resolves once that node queued it, or fails
 * when no node has it, so the caller can fall back (offline storage). A routed stanza is not
 * stored on the way (at most once, as a server-to-server hop); see docs/cluster.md.
 *
 * Only messages with `source` 'xmpp' and the route annotation are taken: another protocol's
 * client sending into the queue cannot pose as the server.
 */
import { randomBytes } from 'node:crypto';
import type { Logger } from '../../core/adapter.js';
import type { Broker } from '../../core/broker.js';
import { createMessage, type Message } from '../../core/message.js';
import type { Consumer } from '../../core/queue-consumer.js';
import { XMPP_XML_CONTENT_TYPE } from './xmpp-message.js';

/** What the receiving node does with a routed stanza (see cluster-link.ts). */
export type RouteOp = 'message' | 'presence' | 'iq' | 'presence-of' | 'unavailable-of';
const OPS = new Set<string>(['message', 'presence', 'iq', 'presence-of', 'unavailable-of']);

export interface Routed {
  op: RouteOp;
  /** Addressee (bare or full JID) on the receiving node. */
  to: string;
  /** For presence-of / unavailable-of: whose presence. */
  of?: string;
  /** The stanza XML ('' for presence-of / unavailable-of). */
  stanza: string;
  /** Node that sent it. */
  origin: number;
  /** Roster records (bare JID -> version) the sender wrote first: the receiver waits until it sees them. */
  after?: Record<string, number>;
}

const ANN_OP = 'xmpp.route';
const ANN_TO = 'xmpp.route-to';
const ANN_OF = 'xmpp.route-of';
const ANN_ORIGIN = 'xmpp.route-origin';
const ANN_AFTER = 'xmpp.route-after';

export function inboxName(node: number): string {
  return `xmpp.node.${node}`;
}

/** Routed stanzas a node holds before its hub handles them; past this the sender falls back. */
const INBOX_MAX = 100000;
const PREFETCH = 256;

export class NodeInbox {
  private readonly owner = `xmpp-hub-${randomBytes(6).toString('hex')}`;
  private consumer?: Consumer;
  /** Routed stanzas are handled one after another, in arrival order. */
  private chain: Promise<void> = Promise.resolve();

  constructor(
    private readonly broker: Broker,
    private readonly handler: (r: Routed) => void | Promise<void>,
    private readonly log: Logger,
  ) {}

  private get self(): number {
    return this.broker.cluster.nodeId;
  }

  async start(): Promise<void> {
    const name = inboxName(this.self);
    const q = await this.broker.declareQueue(name, {
      durable: false, autoDelete: false, exclusiveOwner: this.owner, maxLength: INBOX_MAX, overflow: 'reject', deadLetterQueue: '',
      labels: { protocol: 'xmpp', kind: 'node-inbox' },
    });
    if (q.options.exclusiveOwner !== this.owner) {
      this.log.error({ queue: name }, 'xmpp: the node inbox queue exists already and is not the hub\'s; users on other nodes are not reachable from here');
      return;
    }
    this.consumer = q.consume({ prefetch: PREFETCH, autoAck: false, creditMode: false, owner: this.owner }, (d, c) => {
      const r = decode(d.message);
      this.chain = this.chain.then(async () => {
        try {
          if (r) await this.handler(r);
          else this.log.debug({ source: d.message.source }, 'xmpp: ignored a message in the node inbox that the cluster did not route');
        } catch (e) {
          this.log.warn({ err: String(e) }, 'xmpp: routed stanza failed');
        }
        await c.ack(d.tag);
      });
    });
  }

  stop(): void {
    this.consumer?.close();
    this.consumer = undefined;
  }

  /** Hands a stanza to `node`; resolves false when it could not (node gone, inbox full). */
  send(node: number, r: Omit<Routed, 'origin'>): Promise<boolean> {
    const annotations: Record<string, string | number> = { [ANN_OP]: r.op, [ANN_TO]: r.to, [ANN_ORIGIN]: this.self };
    if (r.of !== undefined) annotations[ANN_OF] = r.of;
    if (r.after) annotations[ANN_AFTER] = JSON.stringify(r.after);
    const message = createMessage({
      topic: inboxName(node), payload: Buffer.from(r.stanza, 'utf8'), contentType: XMPP_XML_CONTENT_TYPE, text: true, durable: false,
      source: 'xmpp', annotations,
    });
    return this.broker.sendToQueue(inboxName(node), message).then(() => true, (e: Error) => {
      this.log.debug({ node, op: r.op, err: e.message }, 'xmpp: stanza not routed to its node');
      return false;
    });
  }
}

function decode(m: Message): Routed | null {
  const a = m.annotations;
  if (m.source !== 'xmpp' || !a) return null;
  const op = a[ANN_OP];
  const to = a[ANN_TO];
  const origin = Number(a[ANN_ORIGIN]);
  if (typeof op !== 'string' || !OPS.has(op) || typeof to !== 'string' || !Number.isInteger(origin)) return null;
  const of = typeof a[ANN_OF] === 'string' ? a[ANN_OF] as string : undefined;
  let after: Record<string, number> | undefined;
  if (typeof a[ANN_AFTER] === 'string') {
    try {
      after = JSON.parse(a[ANN_AFTER] as string) as Record<string, number>;
    } catch {
      return null;
    }
  }
  return { op: op as RouteOp, to, of, stanza: m.payload.toString('utf8'), origin, after };
}
