/**
 * Roster management (RFC 6121 2: get, set, remove, pushes) and presence subscriptions (RFC 6121
 * 3: subscribe, subscribed, unsubscribe, unsubscribed, pre-approval). Storage is roster.ts.
 */
import type { Hub } from './hub.js';
import { Jid, parseJid } from './jid.js';
import { NS } from './ns.js';
import { addFrom, addTo, hasFrom, hasTo, itemElement, removeFrom, removeTo, rosterQuery, type RosterItem } from './roster.js';
import type { Session } from './session.js';
import { iqResult, newId, out } from './stanza.js';
import { x, type XElement } from './xml.js';

// ---- subscriptions (RFC 6121 3) -------------------------------------------------------------

export async function onSubscription(hub: Hub, s: Session, type: string, contact: Jid): Promise<void> {
  const user = s.bare;
  const other = contact.bare;
  if (other === user) return;
  const r = hub.roster;
  const stanza = (t: string, from: string, to: string) => x('presence', { type: t, from, to });
  const contactExists = hub.users.has(other) || hub.knownAccounts.has(contact.local) || await hub.accounts.exists(contact.local);
  switch (type) {
    case 'subscribe': {
      const mine = r.ensureItem(user, other);
      if (hasTo(mine.subscription)) {
        // Already subscribed: the contact's server answers on its behalf.
        s.send(out(stanza('subscribed', other, user)));
        return;
      }
      if (!contactExists) return;
      mine.ask = true;
      const theirs = r.item(other, user);
      if (theirs?.approved) {
        delete theirs.approved;
        theirs.subscription = addFrom(theirs.subscription);
        mine.subscription = addTo(mine.subscription);
        delete mine.ask;
        await r.save(user, other);
        push(hub, user, mine);
        push(hub, other, theirs);
        hub.deliverPresence(new Jid(s.jid.local, hub.domain, ''), stanza('subscribed', other, user));
        hub.sendPresenceOf(other, s);
        return;
      }
      r.get(other).pending[user] = true;
      await r.save(user, other);
      push(hub, user, mine);
      hub.deliverPresence(contact, stanza('subscribe', user, other));
      return;
    }
    case 'subscribed': {
      const pending = r.get(user).pending[other];
      const mine = r.ensureItem(user, other);
      if (!pending) {
        if (hasFrom(mine.subscription)) return;
        mine.approved = true; // pre-approval (RFC 6121 3.4)
        await r.save(user);
        push(hub, user, mine);
        return;
      }
      delete r.get(user).pending[other];
      mine.subscription = addFrom(mine.subscription);
      const theirs = r.ensureItem(other, user);
      theirs.subscription = addTo(theirs.subscription);
      delete theirs.ask;
      await r.save(user, other);
      push(hub, user, mine);
      push(hub, other, theirs);
      hub.deliverPresence(contact, stanza('subscribed', user, other));
      // The new subscriber gets the user's current presence.
      hub.sendPresenceOfLocal(user, other);
      hub.cluster?.routePresenceOf('presence-of', user, other);
      return;
    }
    case 'unsubscribe': {
      const mine = r.item(user, other);
      const theirs = r.item(other, user);
      if (mine) { mine.subscription = removeTo(mine.subscription); delete mine.ask; }
      if (theirs) theirs.subscription = removeFrom(theirs.subscription);
      delete r.get(other).pending[user];
      await r.save(user, other);
      if (mine) push(hub, user, mine);
      if (theirs) push(hub, other, theirs);
      hub.deliverPresence(contact, stanza('unsubscribe', user, other));
      hub.sendUnavailableOf(other, user);
      return;
    }
    case 'unsubscribed': {
      const mine = r.item(user, other);
      const theirs = r.item(other, user);
      const wasPending = r.get(user).pending[other];
      delete r.get(user).pending[other];
      if (mine) { mine.subscription = removeFrom(mine.subscription); delete mine.approved; }
      if (theirs) { theirs.subscription = removeTo(theirs.subscription); delete theirs.ask; }
      await r.save(user, other);
      if (mine) push(hub, user, mine);
      if (theirs) push(hub, other, theirs);
      if (theirs || wasPending) hub.deliverPresence(contact, stanza('unsubscribed', user, other));
      hub.sendUnavailableOf(user, other);
      return;
    }
  }
}

/** Roster push (RFC 6121 2.1.6) to every resource of `owner` here that asked for the roster. */
export function push(hub: Hub, owner: string, item: RosterItem, remove = false): void {
  const user = hub.users.get(owner);
  if (!user) return;
  for (const t of user.sessions.values()) {
    if (!t.rosterInterested) continue;
    t.send(out(x('iq', { type: 'set', id: newId(), to: t.full }, x('query', { xmlns: NS.roster }, itemElement(item, remove)))));
  }
}

export function rosterIq(hub: Hub, s: Session, iq: XElement, q: XElement): void | Promise<void> {
  if (iq.attr('type') === 'get') {
    s.rosterInterested = true;
    const roster = hub.roster.get(s.bare);
    hub.reply(s, iqResult(iq, rosterQuery(Object.values(roster.items))));
    return;
  }
  const items = q.childrenNamed('item');
  if (items.length !== 1) return hub.bounce(s, iq, 'bad-request', 'a roster set has exactly one item');
  const item = items[0];
  const jid = parseJid(item.attr('jid') ?? '');
  if (!jid || jid.resource) return hub.bounce(s, iq, 'bad-request', 'the item needs a bare JID');
  const contact = jid.bare;
  if (item.attr('subscription') === 'remove') return rosterRemove(hub, s, iq, contact);
  const groups = [...new Set(item.childrenNamed('group').map((g) => g.text()))];
  if (groups.some((g) => g.length === 0 || g.length > 1024)) return hub.bounce(s, iq, 'not-acceptable', 'empty or long group name');
  const entry = hub.roster.ensureItem(s.bare, contact);
  const name = item.attr('name');
  if (name !== undefined) entry.name = name; else delete entry.name;
  entry.groups = groups;
  return hub.roster.save(s.bare).then(() => {
    push(hub, s.bare, entry);
    hub.reply(s, iqResult(iq));
  });
}

export async function rosterRemove(hub: Hub, s: Session, iq: XElement, contact: string): Promise<void> {
  const entry = hub.roster.item(s.bare, contact);
  if (!entry) {
    hub.bounce(s, iq, 'item-not-found');
    return;
  }
  const cj = parseJid(contact)!;
  if (hasTo(entry.subscription) || entry.ask) await onSubscription(hub, s, 'unsubscribe', cj);
  if (hasFrom(entry.subscription) || hub.roster.get(s.bare).pending[contact]) await onSubscription(hub, s, 'unsubscribed', cj);
  delete hub.roster.get(s.bare).items[contact];
  await hub.roster.save(s.bare);
  push(hub, s.bare, entry, true);
  hub.reply(s, iqResult(iq));
}
