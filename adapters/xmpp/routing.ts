/**
 * Message routing (RFC 6121 8.5): a message from a local session goes to the addressed resource,
 * or the available resources of a bare JID with non-negative priority, on this node or another
 * (cluster-link.ts), or to offline storage (offline.ts) when nobody is available.
 */
import type { Hub } from './hub.js';
import { parseJid, type Jid } from './jid.js';
import type { Session } from './session.js';
import { out } from './stanza.js';
import type { XElement } from './xml.js';
// ---- messages -------------------------------------------------------------------------------

export function onMessage(hub: Hub, s: Session, el: XElement): void | Promise<void> {
  const toAttr = el.attrs.to;
  let to: Jid | null;
  if (toAttr === undefined) {
    to = s.jid.bareJid();
    el.attrs.to = to.bare;
  } else {
    to = parseJid(toAttr);
    if (!to) return hub.bounce(s, el, 'jid-malformed');
  }
  if (to.domain !== hub.domain) {
    if (to.domain === hub.pubsubDomain) return hub.bounce(s, el, 'service-unavailable');
    return hub.bounce(s, el, 'remote-server-not-found', 'this server does not federate');
  }
  if (!to.local) return hub.bounce(s, el, 'service-unavailable');
  return deliverMessage(hub, to, el, s);
}

/**
 * Routes a message to a local JID (RFC 6121 8.5). Returns a promise while a recipient is congested.
 * `routed`: it came from another node, which already chose this one (no further routing).
 */
export function deliverMessage(hub: Hub, to: Jid, el: XElement, sender: Session | null, routed = false): void | Promise<void> {
  const type = el.attr('type') ?? 'normal';
  const user = hub.users.get(to.bare);
  const cluster = routed ? null : hub.cluster;
  if (to.resource) {
    const target = user?.sessions.get(to.resource);
    if (target) return sendTo(hub, [target], el, type === 'chat' || type === 'normal');
    const node = cluster?.directory.nodeOf(to.bare, to.resource);
    if (node !== undefined) return cluster!.routeMessage([node], to, el, true);
    if (type === 'error' || type === 'headline') return;
    if (type === 'groupchat') return sender ? hub.bounce(sender, el, 'service-unavailable') : undefined;
  }
  if (type === 'error') return;
  if (type === 'groupchat') return sender ? hub.bounce(sender, el, 'service-unavailable') : undefined;
  const targets = user ? user.availableSessions().filter((t) => t.priority >= 0) : [];
  const nodes = cluster ? cluster.directory.nodesOf(to.bare, 0) : [];
  if (nodes.length > 0) cluster!.routeMessage(nodes, to.bareJid(), el, targets.length === 0);
  if (targets.length > 0) return sendTo(hub, targets, el, type === 'chat' || type === 'normal');
  if (nodes.length > 0) return;
  if (type === 'headline') return;
  // The sender's connection waits until the message is stored: a later <r/> is answered only
  // then, so an XEP-0198 <a h/> never counts a message a kill -9 could still lose.
  return hub.storeOffline(to.bare, el, sender ?? undefined);
}

export function sendTo(hub: Hub, targets: Session[], el: XElement, storable: boolean): void | Promise<void> {
  const data = out(el);
  let congested: Session | undefined;
  for (const t of targets) {
    t.send(data, storable);
    if (t.congested) congested = t;
  }
  if (congested) {
    const c = congested;
    return new Promise((resolve) => c.link ? c.link.whenDrained(resolve) : resolve());
  }
}
