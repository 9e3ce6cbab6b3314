/**
 * Presence (RFC 6121 4): broadcast to subscribed contacts and the user's own resources, directed
 * presence, probes, and the presence a subscription change sends. Subscription requests
 * themselves are roster-handlers.ts.
 */
import type { Hub } from './hub.js';
import { hasFrom, hasTo } from './roster.js';
import { parseJid, type Jid } from './jid.js';
import type { Session } from './session.js';
import { out } from './stanza.js';
import { parseXml, x, type XElement } from './xml.js';

const SUBSCRIPTION_TYPES = new Set(['subscribe', 'subscribed', 'unsubscribe', 'unsubscribed']);

// ---- presence -------------------------------------------------------------------------------

export function onPresence(hub: Hub, s: Session, el: XElement): void | Promise<void> {
  const type = el.attr('type');
  const toAttr = el.attrs.to;
  if (toAttr === undefined) {
    if (type === undefined || type === 'unavailable') return onBroadcast(hub, s, el);
    return; // probes/subscriptions need a 'to'; errors without one go nowhere
  }
  const to = parseJid(toAttr);
  if (!to) return hub.bounce(s, el, 'jid-malformed');
  if (type !== undefined && SUBSCRIPTION_TYPES.has(type)) {
    if (to.domain !== hub.domain || !to.local) return;
    return hub.onSubscription(s, type, to.bareJid());
  }
  if (type === 'probe') {
    if (to.domain === hub.domain && to.local && hasTo(hub.roster.item(s.bare, to.bare)?.subscription ?? 'none')) {
      sendPresenceOf(hub, to.bare, s);
    }
    return;
  }
  if (to.domain !== hub.domain || !to.local) return; // directed presence to the server or pubsub: nothing to do
  if (type === 'error') {
    if (to.resource) deliverPresence(hub, to, el);
    return;
  }
  if (type === undefined) s.directed.add(to.full);
  else if (type === 'unavailable') s.directed.delete(to.full);
  deliverPresence(hub, to, el);
}

/** Presence to a JID: its sessions here and, unless `routed` from another node, its other nodes. */
export function deliverPresence(hub: Hub, to: Jid, el: XElement, routed = false): void {
  const user = hub.users.get(to.bare);
  if (to.resource) {
    const target = user?.sessions.get(to.resource);
    if (target) target.send(out(el));
    else if (!routed) hub.cluster?.routePresence(to, el);
    return;
  }
  if (user) {
    const data = out(el);
    for (const t of user.availableSessions()) t.send(data);
  }
  if (!routed) hub.cluster?.routePresence(to, el);
}

export function onBroadcast(hub: Hub, s: Session, el: XElement): void {
  const wasAvailable = s.available;
  if (el.attr('type') === 'unavailable') {
    if (!s.available) return;
    s.available = false;
    s.presence = null;
    broadcastPresence(hub, s, el);
    for (const d of s.directed) {
      const to = parseJid(d);
      if (to) deliverPresence(hub, to, x('presence', { type: 'unavailable', from: s.full, to: d }));
    }
    s.directed.clear();
    hub.refreshConsumers(s.bare, hub.users.get(s.bare));
    hub.cluster?.presenceChanged(s.bare);
    return;
  }
  const p = Number.parseInt(el.childText('priority') ?? '0', 10);
  s.priority = Number.isFinite(p) ? Math.max(-128, Math.min(127, p)) : 0;
  s.available = true;
  s.presence = el;
  broadcastPresence(hub, s, el);
  if (!wasAvailable) {
    // Current presence of the contacts the user is subscribed to, then pending requests.
    const roster = hub.roster.get(s.bare);
    for (const item of Object.values(roster.items)) if (hasTo(item.subscription)) sendPresenceOf(hub, item.jid, s);
    for (const from of Object.keys(roster.pending)) s.send(out(x('presence', { type: 'subscribe', from, to: s.bare })));
  }
  hub.refreshConsumers(s.bare, hub.users.get(s.bare));
  hub.cluster?.presenceChanged(s.bare);
}

/** Sends `el` (from s) to subscribed contacts' available resources and to the user's own. */
export function broadcastPresence(hub: Hub, s: Session, el: XElement): void {
  presenceToFollowers(hub, s.bare, el, s);
}

/**
 * Sends `el`, a presence of one of `bare`'s resources, to the available sessions here of the
 * contacts subscribed to `bare` and of `bare` itself (and to `also`, the resource that sent it).
 */
export function presenceToFollowers(hub: Hub, bare: string, el: XElement, also?: Session): void {
  const roster = hub.roster.get(bare);
  for (const item of Object.values(roster.items)) {
    if (!hasFrom(item.subscription)) continue;
    const contact = hub.users.get(item.jid);
    if (!contact) continue;
    el.attrs.to = item.jid;
    const data = out(el);
    for (const t of contact.availableSessions()) t.send(data);
  }
  const own = hub.users.get(bare);
  if (own) {
    el.attrs.to = bare;
    const data = out(el);
    for (const t of own.sessions.values()) if (t.available || t === also) t.send(data);
  }
  delete el.attrs.to;
}

/** The current presence of every available resource of `bare` (on any node), to one session. */
export function sendPresenceOf(hub: Hub, bare: string, to: Session): void {
  const user = hub.users.get(bare);
  for (const t of user?.availableSessions() ?? []) {
    if (!t.presence) continue;
    const p = t.presence.clone();
    p.attrs.from = t.full;
    p.attrs.to = to.full;
    to.send(out(p));
  }
  for (const r of hub.cluster?.directory.resources(bare) ?? []) {
    try {
      const p = parseXml(r.presence);
      p.attrs.to = to.full;
      to.send(out(p));
    } catch { /* written by a node: always parses */ }
  }
}

/** `of`'s current presence to the available sessions of `to` on this node. */
export function sendPresenceOfLocal(hub: Hub, of: string, to: string): void {
  for (const t of hub.users.get(to)?.availableSessions() ?? []) sendPresenceOf(hub, of, t);
}

/** Tells `to`'s available resources that `of`'s resources are unavailable (subscription ended). */
export function sendUnavailableOf(hub: Hub, of: string, to: string): void {
  sendUnavailableOfLocal(hub, of, to);
  hub.cluster?.routePresenceOf('unavailable-of', of, to);
}

/** sendUnavailableOf for the sessions of `to` on this node. */
export function sendUnavailableOfLocal(hub: Hub, of: string, to: string): void {
  const dest = hub.users.get(to);
  if (!dest) return;
  const fulls = (hub.users.get(of)?.availableSessions() ?? []).map((s) => s.full);
  for (const r of hub.cluster?.directory.resources(of) ?? []) fulls.push(r.full);
  for (const full of fulls) {
    const data = out(x('presence', { type: 'unavailable', from: full, to }));
    for (const t of dest.availableSessions()) t.send(data);
  }
}
