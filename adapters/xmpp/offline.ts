/**
 * Offline messages (XEP-0160) as durable core queues `xmpp.offline.<bare-jid>`, and the per-user
 * consumers of the core queues that feed online resources (offline messages and pubsub
 * notifications from `xmpp.pubsub.<bare-jid>`). The adapter keeps no message store of its own.
 */
import { createMessage } from '../../core/message.js';
import type { Consumer } from '../../core/queue-consumer.js';
import type { Delivery } from '../../core/queue-types.js';
import type { Hub, UserEntry } from './hub.js';
import { NS } from './ns.js';
import type { Session } from './session.js';
import { out } from './stanza.js';
import { XMPP_XML_CONTENT_TYPE } from './xmpp-message.js';
import { x, type XElement } from './xml.js';

export function offlineQueueName(bare: string): string {
  return `xmpp.offline.${bare}`;
}
export function pubsubQueueName(bare: string): string {
  return `xmpp.pubsub.${bare}`;
}

/**
 * Keeps a message in `xmpp.offline.<bare>` (in order per recipient); bounces when impossible.
 * Resolves (never rejects) once the message is stored or bounced.
 */
export function storeOffline(hub: Hub, bare: string, el: XElement, sender?: Session): Promise<void> {
  const prev = hub.offlineChains.get(bare) ?? Promise.resolve();
  const next = prev.then(async () => {
    const local = bare.slice(0, bare.indexOf('@'));
    if (!hub.knownAccounts.has(local)) {
      if (!(await hub.accounts.exists(local))) {
        if (sender) hub.bounce(sender, el, 'service-unavailable');
        return;
      }
      hub.knownAccounts.add(local);
    }
    if (!el.child('delay', NS.delay)) el.c(x('delay', { xmlns: NS.delay, from: hub.domain, stamp: new Date().toISOString() }));
    const name = offlineQueueName(bare);
    await hub.broker.declareQueue(name, {
      durable: true, maxLength: hub.settings.offlineMaxMessages, overflow: 'reject', deadLetterQueue: '', labels: { protocol: 'xmpp' },
    });
    try {
      await hub.broker.sendToQueue(name, createMessage({
        topic: name, payload: Buffer.from(out(el), 'utf8'), contentType: XMPP_XML_CONTENT_TYPE, text: true, durable: true, source: 'xmpp',
      }));
    } catch (e) {
      hub.refusals.info({ to: bare, err: (e as Error).message }, 'xmpp: offline message refused');
      if (sender) hub.bounce(sender, el, 'service-unavailable', 'offline storage is full');
      return;
    }
    // The user may have come online while this was being stored.
    refreshConsumers(hub, bare, hub.users.get(bare));
  }).catch((e) => hub.log.warn({ err: String(e) }, 'xmpp: offline storage failed'));
  hub.offlineChains.set(bare, next);
  void next.then(() => { if (hub.offlineChains.get(bare) === next) hub.offlineChains.delete(bare); });
  return next;
}

// ---- core queue consumers -------------------------------------------------------------------

/** Starts or stops the user's consumers to match whether any resource is available. */
export function refreshConsumers(hub: Hub, bare: string, user: UserEntry | undefined): void {
  const available = user ? user.availableSessions() : [];
  const wantsOffline = available.some((t) => t.priority >= 0);
  if (user && wantsOffline && !user.offline) {
    const q = hub.broker.getQueue(offlineQueueName(bare));
    // A shared queue's messages may be held by its owner node: consume it whatever it holds here.
    if (q && (q.messageCount > 0 || hub.cluster)) user.offline = q.consume({ prefetch: 64, autoAck: false, creditMode: false }, (d, c) => deliverOffline(hub, user, d, c));
  } else if ((!user || !wantsOffline) && user?.offline) {
    user.offline.close();
    user.offline = undefined;
  }
  if (user && available.length > 0 && !user.pubsub) {
    const q = hub.broker.getQueue(pubsubQueueName(bare));
    if (q) user.pubsub = q.consume({ prefetch: 256, autoAck: false, creditMode: false }, (d, c) => deliverEvent(hub, user, d, c));
  } else if ((!user || available.length === 0) && user?.pubsub) {
    user.pubsub.close();
    user.pubsub = undefined;
  }
}

export function deliverOffline(hub: Hub, user: UserEntry, d: Delivery, c: Consumer): void {
  const targets = user.availableSessions().filter((t) => t.priority >= 0).sort((a, b) => b.priority - a.priority);
  const t = targets[0];
  if (!t) {
    settleInBackground(c.nack(d.tag, { requeue: true, failed: false }));
    return;
  }
  t.send(d.message.payload.toString('utf8'), true);
  settleInBackground(c.ack(d.tag));
  throttle(hub, t, c);
}

export function deliverEvent(hub: Hub, user: UserEntry, d: Delivery, c: Consumer): void {
  const targets = user.availableSessions();
  if (targets.length === 0) {
    settleInBackground(c.nack(d.tag, { requeue: true, failed: false }));
    return;
  }
  const data = hub.pubsub.eventStanza(d.message, d.seq, user.bare);
  for (const t of targets) t.send(data);
  settleInBackground(c.ack(d.tag));
  for (const t of targets) throttle(hub, t, c);
}

export function throttle(hub: Hub, t: Session, c: Consumer): void {
  if (!t.congested || !t.link) return;
  c.pause();
  t.link.whenDrained(() => c.resume());
}

/**
 * An ack or nack of an offline or pubsub delivery nobody waits for. In a cluster it fails when the
 * queue's owner changed meanwhile; the message then stays stored and the next owner delivers it
 * again (at least once). Unhandled, the rejection would end the process.
 */
function settleInBackground(settlement: Promise<void>): void {
  settlement.catch(() => undefined);
}
