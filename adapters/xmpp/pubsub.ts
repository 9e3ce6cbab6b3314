/**
 * XEP-0060 publish-subscribe on `pubsub.<domain>`, where a node is a core topic:
 * - node metadata (owner, creation time) in the core's metadata, namespace `xmpp-node`;
 * - publishing is `broker.publish` on the topic (a durable message, item id = messageId), and the
 *   item is also kept as the topic's retained message so the last item can be retrieved when the
 *   topic has no stream;
 * - a subscription is durable per bare JID: the durable queue `xmpp.pubsub.<bare-jid>` bound to the
 *   node's topic (one queue per user however many nodes), recorded in `xmpp-subscription`;
 *   notifications reach the user's available resources, and wait in the queue while none is;
 * - items are retrieved from the topic's stream (StreamCursor) when `broker.getStream(node)`
 *   exists, else from the retained message.
 */
import { randomUUID } from 'node:crypto';
import type { Broker } from '../../core/broker.js';
import { createMessage, type Message } from '../../core/message.js';
import { checkTopicName, InvalidNameError } from '../../core/names.js';
import { QueueFullError } from '../../core/queue-types.js';
import { StreamCursor } from '../../core/stream/stream-cursor.js';
import type { Hub } from './hub.js';
import { pubsubQueueName } from './offline.js';
import { NS } from './ns.js';
import type { Session } from './session.js';
import { errorReply, iqResult, out } from './stanza.js';
import { escapeAttr, x, XElement } from './xml.js';
import { itemToMessage, messageToElement, PayloadError, XMPP_XML_CONTENT_TYPE } from './xmpp-message.js';

export const NS_NODE = 'xmpp-node';
export const NS_SUBSCRIPTION = 'xmpp-subscription';

interface NodeRecord {
  owner: string;
  created: number;
}

interface SubscriptionRecord {
  jid: string;
  node: string;
  since: number;
}

const FEATURES = [
  'auto-create', 'auto-subscribe', 'create-nodes', 'delete-nodes', 'instant-nodes', 'item-ids', 'persistent-items',
  'publish', 'purge-nodes', 'retrieve-affiliations', 'retrieve-items', 'retrieve-subscriptions', 'subscribe',
];

/** Bounds the publishes one session has in flight before its next stanzas wait. */
const MAX_INFLIGHT = 64;

export class PubSubService {
  private readonly eventCache = new WeakMap<Message, string>();
  private readonly inflight = new Map<Session, number>();

  constructor(private readonly hub: Hub, private readonly broker: Broker) {}

  private get domain(): string {
    return this.hub.pubsubDomain;
  }

  private err(s: Session, iq: XElement, condition: string, app?: string, text?: string): void {
    const r = errorReply(iq, condition, text, app ? x(app, { xmlns: NS.pubsubErrors }) : undefined);
    r.attrs.from = this.domain;
    r.attrs.to = s.full;
    s.send(out(r));
  }

  private unsupported(s: Session, iq: XElement, feature: string): void {
    const r = errorReply(iq, 'feature-not-implemented', undefined, x('unsupported', { xmlns: NS.pubsubErrors, feature }));
    r.attrs.from = this.domain;
    r.attrs.to = s.full;
    s.send(out(r));
  }

  private ok(s: Session, iq: XElement, child?: XElement): void {
    const r = iqResult(iq, child);
    r.attrs.from = this.domain;
    r.attrs.to = s.full;
    s.send(out(r));
  }

  nodeExists(node: string): boolean {
    return this.broker.metadata.has(NS_NODE, node) || this.broker.getStream(node) !== undefined || this.broker.retained.get(node) !== undefined;
  }

  private validNode(node: string | undefined): node is string {
    if (!node) return false;
    try {
      checkTopicName(node);
      return true;
    } catch {
      return false;
    }
  }

  handleIq(s: Session, iq: XElement): void | Promise<void> {
    const q = iq.elements()[0];
    const type = iq.attr('type');
    if (q.is('ping', NS.ping) && type === 'get') return this.ok(s, iq);
    if (q.is('query', NS.discoInfo) && type === 'get') return this.discoInfo(s, iq, q.attr('node'));
    if (q.is('query', NS.discoItems) && type === 'get') return this.discoItems(s, iq, q.attr('node'));
    if (q.is('pubsub', NS.pubsub)) return this.pubsubIq(s, iq, q, type === 'set');
    if (q.is('pubsub', NS.pubsubOwner)) return this.ownerIq(s, iq, q, type === 'set');
    this.err(s, iq, 'service-unavailable');
  }

  // ---- disco ----------------------------------------------------------------------------------

  private discoInfo(s: Session, iq: XElement, node: string | undefined): void {
    const q = x('query', { xmlns: NS.discoInfo, node });
    if (node === undefined) {
      q.c(x('identity', { category: 'pubsub', type: 'service', name: 'Junction publish-subscribe' }));
      for (const f of [NS.discoInfo, NS.discoItems, NS.pubsub, NS.ping]) q.c(x('feature', { var: f }));
      for (const f of FEATURES) q.c(x('feature', { var: `${NS.pubsub}#${f}` }));
      return this.ok(s, iq, q);
    }
    if (!this.nodeExists(node)) return this.err(s, iq, 'item-not-found');
    q.c(x('identity', { category: 'pubsub', type: 'leaf' }));
    q.c(x('feature', { var: NS.pubsub }));
    const rec = this.broker.metadata.getJson<NodeRecord>(NS_NODE, node);
    const form = x('x', { xmlns: NS.dataForms, type: 'result' },
      x('field', { var: 'FORM_TYPE', type: 'hidden' }, x('value', null, `${NS.pubsub}#meta-data`)),
      x('field', { var: 'pubsub#type' }, x('value', null, this.broker.getStream(node) ? 'stream' : 'topic')));
    if (rec) {
      form.c(x('field', { var: 'pubsub#owner' }, x('value', null, rec.owner)));
      form.c(x('field', { var: 'pubsub#creation_date' }, x('value', null, new Date(rec.created).toISOString())));
    }
    q.c(form);
    this.ok(s, iq, q);
  }

  /** Node names known to the service: created nodes and the core's streams (capped). */
  nodes(limit = 1000): string[] {
    const names = new Set<string>();
    for (const k of this.broker.metadata.entries(NS_NODE).keys()) {
      names.add(k);
      if (names.size >= limit) break;
    }
    for (const st of this.broker.streams()) {
      if (names.size >= limit) break;
      names.add(st.name);
    }
    return [...names].sort();
  }

  private async discoItems(s: Session, iq: XElement, node: string | undefined): Promise<void> {
    const q = x('query', { xmlns: NS.discoItems, node });
    if (node === undefined) {
      for (const n of this.nodes()) q.c(x('item', { jid: this.domain, node: n, name: n }));
      return this.ok(s, iq, q);
    }
    if (!this.nodeExists(node)) return this.err(s, iq, 'item-not-found');
    for (const m of await this.lastItems(node, this.hub.settings.pubsub.maxItems)) q.c(x('item', { jid: this.domain, name: m.id }));
    this.ok(s, iq, q);
  }

  // ---- pubsub namespace -----------------------------------------------------------------------

  private pubsubIq(s: Session, iq: XElement, q: XElement, set: boolean): void | Promise<void> {
    const op = q.elements()[0];
    if (!op) return this.err(s, iq, 'bad-request');
    if (set) {
      switch (op.local) {
        case 'create': return this.create(s, iq, op);
        case 'publish': return this.publish(s, iq, op, q.child('publish-options'));
        case 'subscribe': return this.subscribe(s, iq, op);
        case 'unsubscribe': return this.unsubscribe(s, iq, op);
        case 'retract': return this.unsupported(s, iq, 'retract-items');
        case 'options': return this.unsupported(s, iq, 'subscription-options');
        default: return this.err(s, iq, 'feature-not-implemented');
      }
    }
    switch (op.local) {
      case 'items': return this.items(s, iq, op);
      case 'subscriptions': return this.subscriptions(s, iq, op.attr('node'));
      case 'affiliations': return this.affiliations(s, iq, op.attr('node'));
      case 'options': return this.unsupported(s, iq, 'subscription-options');
      default: return this.err(s, iq, 'feature-not-implemented');
    }
  }

  private async create(s: Session, iq: XElement, op: XElement): Promise<void> {
    let node = op.attr('node');
    const instant = node === undefined;
    if (instant) node = `instant.${randomUUID().replace(/-/g, '')}`;
    if (!this.validNode(node)) return this.err(s, iq, 'not-acceptable', undefined, 'a node name is a core topic name (no wildcards)');
    if (!this.hub.auth.authorise(s.principal, 'publish', node)) return this.err(s, iq, 'forbidden');
    if (this.broker.metadata.has(NS_NODE, node)) return this.err(s, iq, 'conflict');
    await this.broker.metadata.putJson(NS_NODE, node, { owner: s.bare, created: Date.now() } satisfies NodeRecord);
    this.ok(s, iq, instant ? x('pubsub', { xmlns: NS.pubsub }, x('create', { node })) : undefined);
  }

  private async ensureNode(node: string, owner: string): Promise<boolean> {
    if (this.broker.metadata.has(NS_NODE, node)) return true;
    if (!this.hub.settings.pubsub.autoCreate && !this.nodeExists(node)) return false;
    await this.broker.metadata.putJson(NS_NODE, node, { owner, created: Date.now() } satisfies NodeRecord);
    return true;
  }

  private publish(s: Session, iq: XElement, op: XElement, _options: XElement | undefined): void | Promise<void> {
    const node = op.attr('node');
    if (!node) return this.err(s, iq, 'bad-request', 'nodeid-required');
    if (!this.validNode(node)) return this.err(s, iq, 'item-not-found', undefined, 'a node name is a core topic name (no wildcards)');
    if (!this.hub.auth.authorise(s.principal, 'publish', node)) return this.err(s, iq, 'forbidden');
    const items = op.childrenNamed('item');
    if (items.length > 1) return this.err(s, iq, 'bad-request', 'invalid-payload', 'one item per publish');
    const item = items[0] ?? x('item');
    const id = item.attr('id') || randomUUID();
    if (item.elements().length > 1) return this.err(s, iq, 'bad-request', 'invalid-payload', 'one payload element per item');
    let message: Message;
    try {
      message = itemToMessage(node, item, id, s.bare);
    } catch (e) {
      if (e instanceof PayloadError) return this.err(s, iq, 'bad-request', 'invalid-payload', e.message);
      throw e;
    }
    message.origin = s.id;
    const n = (this.inflight.get(s) ?? 0) + 1;
    this.inflight.set(s, n);
    const done = (async () => {
      try {
        if (!(await this.ensureNode(node, s.bare))) return this.err(s, iq, 'item-not-found');
        // publish() first: it refuses names the core keeps for itself ($SYS) before anything is retained.
        await Promise.all([this.broker.publish(message), this.broker.retained.set(node, message)]);
        this.ok(s, iq, x('pubsub', { xmlns: NS.pubsub }, x('publish', { node }, x('item', { id }))));
      } catch (e) {
        if (e instanceof QueueFullError) return this.err(s, iq, 'resource-constraint', undefined, e.message);
        if (e instanceof InvalidNameError) return this.err(s, iq, 'not-acceptable', undefined, e.message);
        this.hub.log.warn({ err: String(e), node }, 'xmpp: publish failed');
        return this.err(s, iq, 'internal-server-error');
      } finally {
        const left = (this.inflight.get(s) ?? 1) - 1;
        if (left <= 0) this.inflight.delete(s); else this.inflight.set(s, left);
      }
    })();
    // Publishes run concurrently (acknowledged in order of storage); past the bound the session waits.
    if (n >= MAX_INFLIGHT) return done;
  }

  private checkJid(s: Session, iq: XElement, op: XElement): string | null {
    const jid = op.attr('jid');
    if (!jid) { this.err(s, iq, 'bad-request', 'jid-required'); return null; }
    const bare = jid.split('/')[0].toLowerCase();
    if (bare !== s.bare) { this.err(s, iq, 'bad-request', 'invalid-jid'); return null; }
    return jid;
  }

  private async subscribe(s: Session, iq: XElement, op: XElement): Promise<void> {
    const node = op.attr('node');
    if (!node) return this.err(s, iq, 'bad-request', 'nodeid-required');
    const jid = this.checkJid(s, iq, op);
    if (!jid) return;
    if (!this.validNode(node)) return this.err(s, iq, 'item-not-found');
    if (!this.hub.auth.authorise(s.principal, 'subscribe', node)) return this.err(s, iq, 'forbidden');
    if (!(await this.ensureNode(node, s.bare))) return this.err(s, iq, 'item-not-found');
    const queue = pubsubQueueName(s.bare);
    await this.broker.declareQueue(queue, {
      durable: !s.principal.anonymous, autoDelete: false, maxLength: 10000, overflow: 'drop-head', deadLetterQueue: '', labels: { protocol: 'xmpp' },
    });
    await this.broker.bindQueue(queue, node);
    await this.broker.metadata.putJson(NS_SUBSCRIPTION, `${s.bare}\u0000${node}`, { jid, node, since: Date.now() } satisfies SubscriptionRecord);
    this.ok(s, iq, x('pubsub', { xmlns: NS.pubsub }, x('subscription', { node, jid, subscription: 'subscribed' })));
    this.hub.queueCreated(s.bare);
    if (this.hub.settings.pubsub.sendLastItemOnSubscribe) {
      const last = (await this.lastItems(node, 1))[0];
      if (last) s.send(this.eventStanza(last.message, 0, s.bare, last.id));
    }
  }

  private async unsubscribe(s: Session, iq: XElement, op: XElement): Promise<void> {
    const node = op.attr('node');
    if (!node) return this.err(s, iq, 'bad-request', 'nodeid-required');
    if (!this.checkJid(s, iq, op)) return;
    const key = `${s.bare}\u0000${node}`;
    if (!this.broker.metadata.has(NS_SUBSCRIPTION, key)) return this.err(s, iq, 'unexpected-request', 'not-subscribed');
    await this.dropSubscription(s.bare, node);
    this.ok(s, iq);
  }

  private async dropSubscription(bare: string, node: string): Promise<void> {
    const queue = pubsubQueueName(bare);
    await this.broker.metadata.delete(NS_SUBSCRIPTION, `${bare}\u0000${node}`);
    if (this.broker.getQueue(queue)) await this.broker.unbindQueue(queue, node);
  }

  private subscriptionsOf(bare: string): SubscriptionRecord[] {
    const out: SubscriptionRecord[] = [];
    const prefix = `${bare}\u0000`;
    for (const [k, v] of this.broker.metadata.entries(NS_SUBSCRIPTION)) if (k.startsWith(prefix)) out.push(JSON.parse(v.toString('utf8')));
    return out;
  }

  private subscribersOf(node: string): string[] {
    const out: string[] = [];
    const suffix = `\u0000${node}`;
    for (const k of this.broker.metadata.entries(NS_SUBSCRIPTION).keys()) if (k.endsWith(suffix)) out.push(k.slice(0, k.length - suffix.length));
    return out;
  }

  private subscriptions(s: Session, iq: XElement, node: string | undefined): void {
    const el = x('subscriptions', { node });
    for (const r of this.subscriptionsOf(s.bare)) {
      if (node === undefined || r.node === node) el.c(x('subscription', { node: r.node, jid: r.jid, subscription: 'subscribed' }));
    }
    this.ok(s, iq, x('pubsub', { xmlns: NS.pubsub }, el));
  }

  private affiliations(s: Session, iq: XElement, node: string | undefined): void {
    const el = x('affiliations', { node });
    for (const [name, v] of this.broker.metadata.entries(NS_NODE)) {
      if (node !== undefined && name !== node) continue;
      const rec = JSON.parse(v.toString('utf8')) as NodeRecord;
      if (rec.owner === s.bare) el.c(x('affiliation', { node: name, affiliation: 'owner' }));
    }
    this.ok(s, iq, x('pubsub', { xmlns: NS.pubsub }, el));
  }

  private async items(s: Session, iq: XElement, op: XElement): Promise<void> {
    const node = op.attr('node');
    if (!node) return this.err(s, iq, 'bad-request', 'nodeid-required');
    if (!this.validNode(node) || !this.nodeExists(node)) return this.err(s, iq, 'item-not-found');
    if (!this.hub.auth.authorise(s.principal, 'subscribe', node)) return this.err(s, iq, 'forbidden');
    const wanted = op.childrenNamed('item').map((i) => i.attr('id')).filter((i): i is string => !!i);
    const maxAttr = Number.parseInt(op.attr('max_items') ?? '', 10);
    const cap = this.hub.settings.pubsub.maxItems;
    const max = Number.isFinite(maxAttr) && maxAttr > 0 ? Math.min(maxAttr, cap) : cap;
    let found = await this.lastItems(node, wanted.length ? cap : max);
    if (wanted.length) found = found.filter((f) => wanted.includes(f.id));
    const items = x('items', { node });
    for (const f of found) items.c(x('item', { id: f.id }, messageToElement(f.message)));
    this.ok(s, iq, x('pubsub', { xmlns: NS.pubsub }, items));
  }

  /** The node's last `max` items, oldest first: from its stream when it has one, else its retained message. */
  async lastItems(node: string, max: number): Promise<Array<{ id: string; message: Message }>> {
    const stream = this.broker.getStream(node);
    if (stream) {
      const hw = Math.max(0, ...stream.partitions.map((p) => p.highWatermark));
      const cursor = await StreamCursor.open(stream, { offset: Math.max(0, hw - max) });
      const got: Array<{ id: string; message: Message; ts: number }> = [];
      try {
        for (let i = 0; i < 64; i++) {
          const batch = await cursor.poll(Math.max(max, 100));
          if (batch.length === 0) break;
          for (const m of batch) {
            const id = m.message.messageId ?? (stream.partitions.length > 1 ? `${m.partition}-${m.offset}` : String(m.offset));
            got.push({ id, message: m.message, ts: m.message.timestamp });
          }
        }
      } finally {
        cursor.close();
      }
      got.sort((a, b) => a.ts - b.ts);
      return got.slice(-max).map(({ id, message }) => ({ id, message }));
    }
    const retained = this.broker.retained.get(node);
    if (!retained) return [];
    return [{ id: retained.messageId ?? String(retained.timestamp), message: retained }];
  }

  // ---- owner namespace ------------------------------------------------------------------------

  private ownerIq(s: Session, iq: XElement, q: XElement, set: boolean): void | Promise<void> {
    const op = q.elements()[0];
    if (!op) return this.err(s, iq, 'bad-request');
    const node = op.attr('node');
    if (set && op.local === 'delete') return this.deleteNode(s, iq, node);
    if (set && op.local === 'purge') return this.purgeNode(s, iq, node);
    if (!set && op.local === 'subscriptions') {
      if (!node || !this.nodeExists(node)) return this.err(s, iq, 'item-not-found');
      if (!this.isOwner(s, node)) return this.err(s, iq, 'forbidden');
      const el = x('subscriptions', { node });
      for (const bare of this.subscribersOf(node)) el.c(x('subscription', { jid: bare, subscription: 'subscribed' }));
      return this.ok(s, iq, x('pubsub', { xmlns: NS.pubsubOwner }, el));
    }
    if (op.local === 'configure' || op.local === 'default') return this.unsupported(s, iq, 'config-node');
    this.err(s, iq, 'feature-not-implemented');
  }

  private isOwner(s: Session, node: string): boolean {
    const rec = this.broker.metadata.getJson<NodeRecord>(NS_NODE, node);
    if (rec?.owner === s.bare) return true;
    // Others need the admin right, and only where rules are configured (no rules = no admins).
    return !s.principal.anonymous && hasAdminRules(this.hub) && this.hub.auth.authorise(s.principal, 'admin', node);
  }

  private async deleteNode(s: Session, iq: XElement, node: string | undefined): Promise<void> {
    if (!node) return this.err(s, iq, 'bad-request', 'nodeid-required');
    if (!this.broker.metadata.has(NS_NODE, node)) return this.err(s, iq, 'item-not-found');
    if (!this.isOwner(s, node)) return this.err(s, iq, 'forbidden');
    const notice = x('event', { xmlns: NS.pubsubEvent }, x('delete', { node })).toString();
    for (const bare of this.subscribersOf(node)) {
      await this.raw(bare, notice);
      await this.dropSubscription(bare, node);
    }
    await this.broker.retained.set(node, null);
    await this.broker.metadata.delete(NS_NODE, node);
    this.ok(s, iq);
  }

  private async purgeNode(s: Session, iq: XElement, node: string | undefined): Promise<void> {
    if (!node) return this.err(s, iq, 'bad-request', 'nodeid-required');
    if (!this.broker.metadata.has(NS_NODE, node)) return this.err(s, iq, 'item-not-found');
    if (!this.isOwner(s, node)) return this.err(s, iq, 'forbidden');
    await this.broker.retained.set(node, null);
    const notice = x('event', { xmlns: NS.pubsubEvent }, x('purge', { node })).toString();
    for (const bare of this.subscribersOf(node)) await this.raw(bare, notice);
    this.ok(s, iq);
  }

  /** Queues a ready-made notification body for a subscriber (delivered like any event, offline too). */
  private async raw(bare: string, inner: string): Promise<void> {
    const queue = pubsubQueueName(bare);
    if (!this.broker.getQueue(queue)) return;
    await this.broker.sendToQueue(queue, createMessage({
      topic: queue, payload: Buffer.from(inner, 'utf8'), contentType: XMPP_XML_CONTENT_TYPE, durable: true, source: 'xmpp',
      annotations: { 'xmpp.raw': true },
    }));
  }

  // ---- notifications --------------------------------------------------------------------------

  /** The `<message>` carrying one core message as an event notification to `to`. */
  eventStanza(message: Message, seq: number, to: string, itemId?: string): string {
    let inner = this.eventCache.get(message);
    if (inner === undefined) {
      if (message.annotations?.['xmpp.raw'] === true) {
        inner = message.payload.toString('utf8');
      } else {
        const id = itemId ?? message.messageId ?? `${message.timestamp.toString(36)}-${seq}`;
        const item = x('item', { id }, messageToElement(message));
        const publisher = message.annotations?.['xmpp.publisher'];
        if (typeof publisher === 'string') item.attrs.publisher = publisher;
        inner = x('event', { xmlns: NS.pubsubEvent }, x('items', { node: message.topic }, item)).toString();
      }
      this.eventCache.set(message, inner);
    }
    return `<message xmlns='${NS.client}' from='${this.domain}' to='${escapeAttr(to)}' type='headline' id='${seq.toString(36)}'>${inner}</message>`;
  }
}

/** Admin rights only count when rules are configured (no rules = everyone may do everything). */
function hasAdminRules(hub: Hub): boolean {
  return hub.auth.authorise({ user: '\u0000nobody', anonymous: true }, 'admin', 'x') === false;
}
