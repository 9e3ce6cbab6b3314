/**
 * The IM server (RFC 6121): bound sessions by bare and full JID, message routing, presence
 * broadcast and subscriptions, rosters, offline messages (XEP-0160) as durable core queues
 * `xmpp.offline.<bare-jid>`, the server's own IQs (disco, ping, version, legacy session, roster,
 * registration info), and the per-user consumers of the core queues that feed online resources
 * (offline messages and pubsub notifications). The adapter keeps no message store of its own.
 * In a cluster, `cluster` (cluster-link.ts) reaches the users connected to other nodes.
 */
import { randomBytes } from 'node:crypto';
import type { AuthPlugin, Logger } from '../../core/adapter.js';
import type { Broker } from '../../core/broker.js';
import { createMessage, type Message } from '../../core/message.js';
import type { Consumer } from '../../core/queue-consumer.js';
import type { Delivery } from '../../core/queue-types.js';
import type { Accounts } from './accounts.js';
import { ClusterLink } from './cluster-link.js';
import type { XmppSettings } from './config.js';
import { Jid, parseJid } from './jid.js';
import { NS } from './ns.js';
import type { PubSubService } from './pubsub.js';
import {
  addFrom, addTo, hasFrom, hasTo, itemElement, removeFrom, removeTo, RosterItem, rosterQuery, RosterStore,
} from './roster.js';
import type { Session, SessionLink } from './session.js';
import { Session as SessionClass } from './session.js';
import { errorReply, iqResult, newId, out } from './stanza.js';
import { XMPP_XML_CONTENT_TYPE } from './xmpp-message.js';
import { escapeAttr, parseXml, x, XElement } from './xml.js';
import { RateLimitedLog } from '../../core/rate-limited-log.js';

export const VERSION = '0.1.0';

export class UserEntry {
  readonly sessions = new Map<string, Session>();
  offline?: Consumer;
  pubsub?: Consumer;
  constructor(readonly bare: string) {}

  availableSessions(): Session[] {
    const out: Session[] = [];
    for (const s of this.sessions.values()) if (s.available) out.push(s);
    return out;
  }
}

export function offlineQueueName(bare: string): string {
  return `xmpp.offline.${bare}`;
}
export function pubsubQueueName(bare: string): string {
  return `xmpp.pubsub.${bare}`;
}

const SUBSCRIPTION_TYPES = new Set(['subscribe', 'subscribed', 'unsubscribe', 'unsubscribed']);

export class Hub {
  readonly users = new Map<string, UserEntry>();
  readonly bySmId = new Map<string, Session>();
  readonly roster: RosterStore;
  pubsub!: PubSubService;
  readonly pubsubDomain: string;
  private readonly knownAccounts = new Set<string>();
  private readonly offlineChains = new Map<string, Promise<void>>();
  /** Null on a single node. */
  readonly cluster: ClusterLink | null;
  /** Refused offline messages (a full offline queue refuses every message while it stays full). */
  private readonly refusals: RateLimitedLog;

  constructor(
    readonly broker: Broker,
    readonly settings: XmppSettings,
    readonly accounts: Accounts,
    readonly auth: AuthPlugin,
    readonly log: Logger,
  ) {
    this.roster = new RosterStore(broker.metadata);
    this.pubsubDomain = `pubsub.${settings.domain}`;
    this.cluster = broker.cluster.clustered ? new ClusterLink(this) : null;
    this.refusals = new RateLimitedLog(log, 'xmpp');
  }

  /** In a cluster: starts reading other nodes' presence and routed stanzas. */
  async start(): Promise<void> {
    await this.cluster?.start();
  }

  get domain(): string {
    return this.settings.domain;
  }

  // ---- sessions -------------------------------------------------------------------------------

  /** Binds a resource (RFC 6120 7). Returns the session or a stanza error condition. */
  bind(link: SessionLink, principal: { user: string; anonymous: boolean }, local: string, requested: string | undefined): Session | string {
    const bare = `${local}@${this.domain}`;
    let user = this.users.get(bare);
    let resource = requested?.trim() ?? '';
    if (resource) {
      const j = parseJid(`${bare}/${resource}`);
      if (!j) return 'bad-request';
      resource = j.resource;
    } else {
      resource = `junction-${randomBytes(6).toString('hex')}`;
    }
    const existing = user?.sessions.get(resource);
    if (existing) {
      // RFC 6120 7.7.2.2: the new session wins; the old one gets a conflict stream error.
      const oldLink = existing.link;
      this.endSession(existing, true);
      oldLink?.streamError('conflict', 'replaced by a new connection');
    }
    user = this.users.get(bare);
    if (user && user.sessions.size >= this.settings.maxResourcesPerUser) return 'resource-constraint';
    if (!user) this.users.set(bare, (user = new UserEntry(bare)));
    const session = new SessionClass(new Jid(local, this.domain, resource), principal, link, this.settings.smMaxUnacked);
    user.sessions.set(resource, session);
    if (!principal.anonymous) this.knownAccounts.add(local);
    return session;
  }

  /** A session's connection went away without closing the stream. */
  linkLost(s: Session): void {
    if (s.ended) return;
    s.link = null;
    if (s.smEnabled && s.smResumable && this.settings.smResumeTimeoutMs > 0) {
      clearTimeout(s.hibernateTimer);
      s.hibernateTimer = setTimeout(() => this.endSession(s, true), this.settings.smResumeTimeoutMs);
      s.hibernateTimer.unref();
      return;
    }
    this.endSession(s, true);
  }

  /** Ends a session: unavailable presence, resources freed, unacknowledged chats stored offline. */
  endSession(s: Session, broadcast: boolean): void {
    if (s.ended) return;
    clearTimeout(s.hibernateTimer);
    if (broadcast && s.available) this.broadcastPresence(s, x('presence', { type: 'unavailable', from: s.full }));
    s.available = false;
    for (const d of s.directed) {
      const to = parseJid(d);
      if (to) this.deliverPresence(to, x('presence', { type: 'unavailable', from: s.full, to: d }));
    }
    s.directed.clear();
    s.ended = true;
    if (s.smEnabled) this.bySmId.delete(s.id);
    const user = this.users.get(s.bare);
    if (user && user.sessions.get(s.jid.resource) === s) {
      user.sessions.delete(s.jid.resource);
      if (user.sessions.size === 0) this.users.delete(s.bare);
    }
    this.refreshConsumers(s.bare, user);
    this.cluster?.presenceChanged(s.bare);
    for (const data of s.takeStorable()) {
      try {
        const el = parseXml(data);
        el.attrs.to = s.bare;
        void this.storeOffline(s.bare, el);
      } catch { /* our own output always parses */ }
    }
  }

  /** Resumes a hibernating (or still attached) session for an authenticated user (XEP-0198 5). */
  resumable(previd: string, bare: string): Session | undefined {
    const s = this.bySmId.get(previd);
    if (!s || s.ended || s.bare !== bare) return undefined;
    return s;
  }

  closeAll(): void {
    for (const user of [...this.users.values()]) {
      for (const s of [...user.sessions.values()]) {
        const link = s.link;
        this.endSession(s, false);
        link?.streamError('system-shutdown');
      }
    }
    this.cluster?.stop();
  }

  /** A session bound on this node. */
  localSession(jid: Jid): Session | undefined {
    return this.users.get(jid.bare)?.sessions.get(jid.resource);
  }

  // ---- stanza dispatch ------------------------------------------------------------------------

  /** A stanza from a bound session. A returned promise holds back the session's next stanzas. */
  handle(s: Session, el: XElement): void | Promise<void> {
    const from = el.attrs.from;
    if (from !== undefined && from !== s.full && from !== s.bare) {
      s.link?.streamError('invalid-from', 'the from address is not this session');
      return;
    }
    el.attrs.from = s.full;
    switch (el.local) {
      case 'message': return this.onMessage(s, el);
      case 'presence': return this.onPresence(s, el);
      case 'iq': return this.onIq(s, el);
      default:
        s.link?.streamError('unsupported-stanza-type', `<${el.name}/> is not a stanza`);
    }
  }

  private reply(s: Session, el: XElement): void {
    s.send(out(el));
  }

  private bounce(s: Session, el: XElement, condition: string, text?: string): void {
    if (el.attr('type') === 'error') return;
    const r = errorReply(el, condition, text);
    r.attrs.to = s.full;
    s.send(out(r));
  }

  // ---- messages -------------------------------------------------------------------------------

  private onMessage(s: Session, el: XElement): void | Promise<void> {
    const toAttr = el.attrs.to;
    let to: Jid | null;
    if (toAttr === undefined) {
      to = s.jid.bareJid();
      el.attrs.to = to.bare;
    } else {
      to = parseJid(toAttr);
      if (!to) return this.bounce(s, el, 'jid-malformed');
    }
    if (to.domain !== this.domain) {
      if (to.domain === this.pubsubDomain) return this.bounce(s, el, 'service-unavailable');
      return this.bounce(s, el, 'remote-server-not-found', 'this server does not federate');
    }
    if (!to.local) return this.bounce(s, el, 'service-unavailable');
    return this.deliverMessage(to, el, s);
  }

  /**
   * Routes a message to a local JID (RFC 6121 8.5). Returns a promise while a recipient is congested.
   * `routed`: it came from another node, which already chose this one (no further routing).
   */
  deliverMessage(to: Jid, el: XElement, sender: Session | null, routed = false): void | Promise<void> {
    const type = el.attr('type') ?? 'normal';
    const user = this.users.get(to.bare);
    const cluster = routed ? null : this.cluster;
    if (to.resource) {
      const target = user?.sessions.get(to.resource);
      if (target) return this.sendTo([target], el, type === 'chat' || type === 'normal');
      const node = cluster?.directory.nodeOf(to.bare, to.resource);
      if (node !== undefined) return cluster!.routeMessage([node], to, el, true);
      if (type === 'error' || type === 'headline') return;
      if (type === 'groupchat') return sender ? this.bounce(sender, el, 'service-unavailable') : undefined;
    }
    if (type === 'error') return;
    if (type === 'groupchat') return sender ? this.bounce(sender, el, 'service-unavailable') : undefined;
    const targets = user ? user.availableSessions().filter((t) => t.priority >= 0) : [];
    const nodes = cluster ? cluster.directory.nodesOf(to.bare, 0) : [];
    if (nodes.length > 0) cluster!.routeMessage(nodes, to.bareJid(), el, targets.length === 0);
    if (targets.length > 0) return this.sendTo(targets, el, type === 'chat' || type === 'normal');
    if (nodes.length > 0) return;
    if (type === 'headline') return;
    // The sender's connection waits until the message is stored: a later <r/> is answered only
    // then, so an XEP-0198 <a h/> never counts a message a kill -9 could still lose.
    return this.storeOffline(to.bare, el, sender ?? undefined);
  }

  private sendTo(targets: Session[], el: XElement, storable: boolean): void | Promise<void> {
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

  /**
   * Keeps a message in `xmpp.offline.<bare>` (in order per recipient); bounces when impossible.
   * Resolves (never rejects) once the message is stored or bounced.
   */
  storeOffline(bare: string, el: XElement, sender?: Session): Promise<void> {
    const prev = this.offlineChains.get(bare) ?? Promise.resolve();
    const next = prev.then(async () => {
      const local = bare.slice(0, bare.indexOf('@'));
      if (!this.knownAccounts.has(local)) {
        if (!(await this.accounts.exists(local))) {
          if (sender) this.bounce(sender, el, 'service-unavailable');
          return;
        }
        this.knownAccounts.add(local);
      }
      if (!el.child('delay', NS.delay)) el.c(x('delay', { xmlns: NS.delay, from: this.domain, stamp: new Date().toISOString() }));
      const name = offlineQueueName(bare);
      await this.broker.declareQueue(name, {
        durable: true, maxLength: this.settings.offlineMaxMessages, overflow: 'reject', deadLetterQueue: '', labels: { protocol: 'xmpp' },
      });
      try {
        await this.broker.sendToQueue(name, createMessage({
          topic: name, payload: Buffer.from(out(el), 'utf8'), contentType: XMPP_XML_CONTENT_TYPE, text: true, durable: true, source: 'xmpp',
        }));
      } catch (e) {
        this.refusals.info({ to: bare, err: (e as Error).message }, 'xmpp: offline message refused');
        if (sender) this.bounce(sender, el, 'service-unavailable', 'offline storage is full');
        return;
      }
      // The user may have come online while this was being stored.
      this.refreshConsumers(bare, this.users.get(bare));
    }).catch((e) => this.log.warn({ err: String(e) }, 'xmpp: offline storage failed'));
    this.offlineChains.set(bare, next);
    void next.then(() => { if (this.offlineChains.get(bare) === next) this.offlineChains.delete(bare); });
    return next;
  }

  // ---- presence -------------------------------------------------------------------------------

  private onPresence(s: Session, el: XElement): void | Promise<void> {
    const type = el.attr('type');
    const toAttr = el.attrs.to;
    if (toAttr === undefined) {
      if (type === undefined || type === 'unavailable') return this.onBroadcast(s, el);
      return; // probes/subscriptions need a 'to'; errors without one go nowhere
    }
    const to = parseJid(toAttr);
    if (!to) return this.bounce(s, el, 'jid-malformed');
    if (type !== undefined && SUBSCRIPTION_TYPES.has(type)) {
      if (to.domain !== this.domain || !to.local) return;
      return this.onSubscription(s, type, to.bareJid());
    }
    if (type === 'probe') {
      if (to.domain === this.domain && to.local && hasTo(this.roster.item(s.bare, to.bare)?.subscription ?? 'none')) {
        this.sendPresenceOf(to.bare, s);
      }
      return;
    }
    if (to.domain !== this.domain || !to.local) return; // directed presence to the server or pubsub: nothing to do
    if (type === 'error') {
      if (to.resource) this.deliverPresence(to, el);
      return;
    }
    if (type === undefined) s.directed.add(to.full);
    else if (type === 'unavailable') s.directed.delete(to.full);
    this.deliverPresence(to, el);
  }

  /** Presence to a JID: its sessions here and, unless `routed` from another node, its other nodes. */
  deliverPresence(to: Jid, el: XElement, routed = false): void {
    const user = this.users.get(to.bare);
    if (to.resource) {
      const target = user?.sessions.get(to.resource);
      if (target) target.send(out(el));
      else if (!routed) this.cluster?.routePresence(to, el);
      return;
    }
    if (user) {
      const data = out(el);
      for (const t of user.availableSessions()) t.send(data);
    }
    if (!routed) this.cluster?.routePresence(to, el);
  }

  private onBroadcast(s: Session, el: XElement): void {
    const wasAvailable = s.available;
    if (el.attr('type') === 'unavailable') {
      if (!s.available) return;
      s.available = false;
      s.presence = null;
      this.broadcastPresence(s, el);
      for (const d of s.directed) {
        const to = parseJid(d);
        if (to) this.deliverPresence(to, x('presence', { type: 'unavailable', from: s.full, to: d }));
      }
      s.directed.clear();
      this.refreshConsumers(s.bare, this.users.get(s.bare));
      this.cluster?.presenceChanged(s.bare);
      return;
    }
    const p = Number.parseInt(el.childText('priority') ?? '0', 10);
    s.priority = Number.isFinite(p) ? Math.max(-128, Math.min(127, p)) : 0;
    s.available = true;
    s.presence = el;
    this.broadcastPresence(s, el);
    if (!wasAvailable) {
      // Current presence of the contacts the user is subscribed to, then pending requests.
      const roster = this.roster.get(s.bare);
      for (const item of Object.values(roster.items)) if (hasTo(item.subscription)) this.sendPresenceOf(item.jid, s);
      for (const from of Object.keys(roster.pending)) s.send(out(x('presence', { type: 'subscribe', from, to: s.bare })));
    }
    this.refreshConsumers(s.bare, this.users.get(s.bare));
    this.cluster?.presenceChanged(s.bare);
  }

  /** Sends `el` (from s) to subscribed contacts' available resources and to the user's own. */
  private broadcastPresence(s: Session, el: XElement): void {
    this.presenceToFollowers(s.bare, el, s);
  }

  /**
   * Sends `el`, a presence of one of `bare`'s resources, to the available sessions here of the
   * contacts subscribed to `bare` and of `bare` itself (and to `also`, the resource that sent it).
   */
  presenceToFollowers(bare: string, el: XElement, also?: Session): void {
    const roster = this.roster.get(bare);
    for (const item of Object.values(roster.items)) {
      if (!hasFrom(item.subscription)) continue;
      const contact = this.users.get(item.jid);
      if (!contact) continue;
      el.attrs.to = item.jid;
      const data = out(el);
      for (const t of contact.availableSessions()) t.send(data);
    }
    const own = this.users.get(bare);
    if (own) {
      el.attrs.to = bare;
      const data = out(el);
      for (const t of own.sessions.values()) if (t.available || t === also) t.send(data);
    }
    delete el.attrs.to;
  }

  /** The current presence of every available resource of `bare` (on any node), to one session. */
  private sendPresenceOf(bare: string, to: Session): void {
    const user = this.users.get(bare);
    for (const t of user?.availableSessions() ?? []) {
      if (!t.presence) continue;
      const p = t.presence.clone();
      p.attrs.from = t.full;
      p.attrs.to = to.full;
      to.send(out(p));
    }
    for (const r of this.cluster?.directory.resources(bare) ?? []) {
      try {
        const p = parseXml(r.presence);
        p.attrs.to = to.full;
        to.send(out(p));
      } catch { /* written by a node: always parses */ }
    }
  }

  /** `of`'s current presence to the available sessions of `to` on this node. */
  sendPresenceOfLocal(of: string, to: string): void {
    for (const t of this.users.get(to)?.availableSessions() ?? []) this.sendPresenceOf(of, t);
  }

  // ---- subscriptions (RFC 6121 3) -------------------------------------------------------------

  private async onSubscription(s: Session, type: string, contact: Jid): Promise<void> {
    const user = s.bare;
    const other = contact.bare;
    if (other === user) return;
    const r = this.roster;
    const stanza = (t: string, from: string, to: string) => x('presence', { type: t, from, to });
    const contactExists = this.users.has(other) || this.knownAccounts.has(contact.local) || await this.accounts.exists(contact.local);
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
          this.push(user, mine);
          this.push(other, theirs);
          this.deliverPresence(new Jid(s.jid.local, this.domain, ''), stanza('subscribed', other, user));
          this.sendPresenceOf(other, s);
          return;
        }
        r.get(other).pending[user] = true;
        await r.save(user, other);
        this.push(user, mine);
        this.deliverPresence(contact, stanza('subscribe', user, other));
        return;
      }
      case 'subscribed': {
        const pending = r.get(user).pending[other];
        const mine = r.ensureItem(user, other);
        if (!pending) {
          if (hasFrom(mine.subscription)) return;
          mine.approved = true; // pre-approval (RFC 6121 3.4)
          await r.save(user);
          this.push(user, mine);
          return;
        }
        delete r.get(user).pending[other];
        mine.subscription = addFrom(mine.subscription);
        const theirs = r.ensureItem(other, user);
        theirs.subscription = addTo(theirs.subscription);
        delete theirs.ask;
        await r.save(user, other);
        this.push(user, mine);
        this.push(other, theirs);
        this.deliverPresence(contact, stanza('subscribed', user, other));
        // The new subscriber gets the user's current presence.
        this.sendPresenceOfLocal(user, other);
        this.cluster?.routePresenceOf('presence-of', user, other);
        return;
      }
      case 'unsubscribe': {
        const mine = r.item(user, other);
        const theirs = r.item(other, user);
        if (mine) { mine.subscription = removeTo(mine.subscription); delete mine.ask; }
        if (theirs) theirs.subscription = removeFrom(theirs.subscription);
        delete r.get(other).pending[user];
        await r.save(user, other);
        if (mine) this.push(user, mine);
        if (theirs) this.push(other, theirs);
        this.deliverPresence(contact, stanza('unsubscribe', user, other));
        this.sendUnavailableOf(other, user);
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
        if (mine) this.push(user, mine);
        if (theirs) this.push(other, theirs);
        if (theirs || wasPending) this.deliverPresence(contact, stanza('unsubscribed', user, other));
        this.sendUnavailableOf(user, other);
        return;
      }
    }
  }

  /** Tells `to`'s available resources that `of`'s resources are unavailable (subscription ended). */
  private sendUnavailableOf(of: string, to: string): void {
    this.sendUnavailableOfLocal(of, to);
    this.cluster?.routePresenceOf('unavailable-of', of, to);
  }

  /** sendUnavailableOf for the sessions of `to` on this node. */
  sendUnavailableOfLocal(of: string, to: string): void {
    const dest = this.users.get(to);
    if (!dest) return;
    const fulls = (this.users.get(of)?.availableSessions() ?? []).map((s) => s.full);
    for (const r of this.cluster?.directory.resources(of) ?? []) fulls.push(r.full);
    for (const full of fulls) {
      const data = out(x('presence', { type: 'unavailable', from: full, to }));
      for (const t of dest.availableSessions()) t.send(data);
    }
  }

  /** Roster push (RFC 6121 2.1.6) to every resource of `owner` here that asked for the roster. */
  push(owner: string, item: RosterItem, remove = false): void {
    const user = this.users.get(owner);
    if (!user) return;
    for (const t of user.sessions.values()) {
      if (!t.rosterInterested) continue;
      t.send(out(x('iq', { type: 'set', id: newId(), to: t.full }, x('query', { xmlns: NS.roster }, itemElement(item, remove)))));
    }
  }

  // ---- IQ -------------------------------------------------------------------------------------

  private onIq(s: Session, iq: XElement): void | Promise<void> {
    const type = iq.attr('type');
    const id = iq.attr('id');
    const isRequest = type === 'get' || type === 'set';
    if (!id || (!isRequest && type !== 'result' && type !== 'error')) {
      if (type !== 'error' && type !== 'result') return this.bounce(s, iq, 'bad-request', 'an iq needs an id and a type');
      return;
    }
    if (isRequest && iq.elements().length !== 1) return this.bounce(s, iq, 'bad-request', 'an iq get/set has exactly one child');
    const toAttr = iq.attrs.to;
    const to = toAttr === undefined ? null : parseJid(toAttr);
    if (toAttr !== undefined && !to) return this.bounce(s, iq, 'jid-malformed');
    if (!to || to.full === s.bare) return isRequest ? this.accountIq(s, iq, true) : undefined;
    if (to.full === this.domain) return isRequest ? this.serverIq(s, iq) : undefined;
    if (to.domain === this.pubsubDomain && !to.local) return isRequest ? this.pubsub.handleIq(s, iq) : undefined;
    if (to.domain !== this.domain) return isRequest ? this.bounce(s, iq, 'remote-server-not-found') : undefined;
    if (!to.resource) return isRequest ? this.accountIq(s, iq, false) : undefined;
    const target = this.users.get(to.bare)?.sessions.get(to.resource);
    if (target) {
      target.send(out(iq));
      return;
    }
    if (this.cluster?.routeIq(to, iq)) return;
    if (isRequest) this.bounce(s, iq, 'service-unavailable');
  }

  /** IQs to the user's own account (no 'to', or the bare JID) or another account's bare JID. */
  private accountIq(s: Session, iq: XElement, own: boolean): void | Promise<void> {
    const q = iq.elements()[0];
    if (own && q.is('query', NS.roster)) return this.rosterIq(s, iq, q);
    if (own && q.is('session', NS.session)) return this.reply(s, iqResult(iq));
    if (own && q.is('query', NS.register)) return this.registerIq(s, iq, q);
    if (q.is('ping', NS.ping) && iq.attr('type') === 'get') return this.reply(s, iqResult(iq));
    if (q.is('query', NS.discoInfo) && iq.attr('type') === 'get' && !q.attr('node')) {
      return this.reply(s, iqResult(iq, x('query', { xmlns: NS.discoInfo },
        x('identity', { category: 'account', type: s.principal.anonymous && own ? 'anonymous' : 'registered' }),
        x('feature', { var: NS.discoInfo }))));
    }
    if (q.is('query', NS.discoItems) && iq.attr('type') === 'get') return this.reply(s, iqResult(iq, x('query', { xmlns: NS.discoItems })));
    // A server handling an IQ on behalf of an account it cannot answer for (RFC 6121 8.5.2.1.3).
    this.bounce(s, iq, 'service-unavailable');
  }

  private serverIq(s: Session, iq: XElement): void | Promise<void> {
    const q = iq.elements()[0];
    const get = iq.attr('type') === 'get';
    if (q.is('ping', NS.ping) && get) return this.reply(s, iqResult(iq));
    if (q.is('session', NS.session)) return this.reply(s, iqResult(iq));
    if (q.is('query', NS.discoInfo) && get) {
      if (q.attr('node')) return this.bounce(s, iq, 'item-not-found');
      const features = [NS.discoInfo, NS.discoItems, NS.ping, NS.roster, NS.version, NS.msgoffline, NS.sm, 'urn:xmpp:delay', 'vcard-temp'];
      if (this.settings.registration) features.push(NS.register);
      const query = x('query', { xmlns: NS.discoInfo }, x('identity', { category: 'server', type: 'im', name: 'Junction' }));
      for (const f of features.sort()) query.c(x('feature', { var: f }));
      return this.reply(s, iqResult(iq, query));
    }
    if (q.is('query', NS.discoItems) && get) {
      if (q.attr('node')) return this.reply(s, iqResult(iq, x('query', { xmlns: NS.discoItems, node: q.attr('node') })));
      return this.reply(s, iqResult(iq, x('query', { xmlns: NS.discoItems }, x('item', { jid: this.pubsubDomain, name: 'Publish-Subscribe service' }))));
    }
    if (q.is('query', NS.version) && get) {
      return this.reply(s, iqResult(iq, x('query', { xmlns: NS.version }, x('name', null, 'Junction'), x('version', null, VERSION))));
    }
    if (q.is('query', NS.roster)) return this.rosterIq(s, iq, q);
    if (q.is('query', NS.register)) return this.registerIq(s, iq, q);
    this.bounce(s, iq, 'service-unavailable');
  }

  private registerIq(s: Session, iq: XElement, q: XElement): void {
    if (iq.attr('type') === 'get') {
      this.reply(s, iqResult(iq, x('query', { xmlns: NS.register }, x('registered'), x('username', null, s.jid.local))));
      return;
    }
    // Changing the password or cancelling needs an auth plugin operation that does not exist yet.
    void q;
    this.bounce(s, iq, 'not-allowed', 'password changes and cancellation are done by the administrator');
  }

  private rosterIq(s: Session, iq: XElement, q: XElement): void | Promise<void> {
    if (iq.attr('type') === 'get') {
      s.rosterInterested = true;
      const roster = this.roster.get(s.bare);
      this.reply(s, iqResult(iq, rosterQuery(Object.values(roster.items))));
      return;
    }
    const items = q.childrenNamed('item');
    if (items.length !== 1) return this.bounce(s, iq, 'bad-request', 'a roster set has exactly one item');
    const item = items[0];
    const jid = parseJid(item.attr('jid') ?? '');
    if (!jid || jid.resource) return this.bounce(s, iq, 'bad-request', 'the item needs a bare JID');
    const contact = jid.bare;
    if (item.attr('subscription') === 'remove') return this.rosterRemove(s, iq, contact);
    const groups = [...new Set(item.childrenNamed('group').map((g) => g.text()))];
    if (groups.some((g) => g.length === 0 || g.length > 1024)) return this.bounce(s, iq, 'not-acceptable', 'empty or long group name');
    const entry = this.roster.ensureItem(s.bare, contact);
    const name = item.attr('name');
    if (name !== undefined) entry.name = name; else delete entry.name;
    entry.groups = groups;
    return this.roster.save(s.bare).then(() => {
      this.push(s.bare, entry);
      this.reply(s, iqResult(iq));
    });
  }

  private async rosterRemove(s: Session, iq: XElement, contact: string): Promise<void> {
    const entry = this.roster.item(s.bare, contact);
    if (!entry) {
      this.bounce(s, iq, 'item-not-found');
      return;
    }
    const cj = parseJid(contact)!;
    if (hasTo(entry.subscription) || entry.ask) await this.onSubscription(s, 'unsubscribe', cj);
    if (hasFrom(entry.subscription) || this.roster.get(s.bare).pending[contact]) await this.onSubscription(s, 'unsubscribed', cj);
    delete this.roster.get(s.bare).items[contact];
    await this.roster.save(s.bare);
    this.push(s.bare, entry, true);
    this.reply(s, iqResult(iq));
  }

  // ---- core queue consumers -------------------------------------------------------------------

  /** Starts or stops the user's consumers to match whether any resource is available. */
  refreshConsumers(bare: string, user: UserEntry | undefined): void {
    const available = user ? user.availableSessions() : [];
    const wantsOffline = available.some((t) => t.priority >= 0);
    if (user && wantsOffline && !user.offline) {
      const q = this.broker.getQueue(offlineQueueName(bare));
      // A shared queue's messages may be held by its owner node: consume it whatever it holds here.
      if (q && (q.messageCount > 0 || this.cluster)) user.offline = q.consume({ prefetch: 64, autoAck: false, creditMode: false }, (d, c) => this.deliverOffline(user, d, c));
    } else if ((!user || !wantsOffline) && user?.offline) {
      user.offline.close();
      user.offline = undefined;
    }
    if (user && available.length > 0 && !user.pubsub) {
      const q = this.broker.getQueue(pubsubQueueName(bare));
      if (q) user.pubsub = q.consume({ prefetch: 256, autoAck: false, creditMode: false }, (d, c) => this.deliverEvent(user, d, c));
    } else if ((!user || available.length === 0) && user?.pubsub) {
      user.pubsub.close();
      user.pubsub = undefined;
    }
  }

  /** Called by pubsub after the user's pubsub queue is created. */
  queueCreated(bare: string): void {
    this.refreshConsumers(bare, this.users.get(bare));
  }

  private deliverOffline(user: UserEntry, d: Delivery, c: Consumer): void {
    const targets = user.availableSessions().filter((t) => t.priority >= 0).sort((a, b) => b.priority - a.priority);
    const t = targets[0];
    if (!t) {
      settleInBackground(c.nack(d.tag, { requeue: true, failed: false }));
      return;
    }
    t.send(d.message.payload.toString('utf8'), true);
    settleInBackground(c.ack(d.tag));
    this.throttle(t, c);
  }

  private deliverEvent(user: UserEntry, d: Delivery, c: Consumer): void {
    const targets = user.availableSessions();
    if (targets.length === 0) {
      settleInBackground(c.nack(d.tag, { requeue: true, failed: false }));
      return;
    }
    const data = this.pubsub.eventStanza(d.message, d.seq, user.bare);
    for (const t of targets) t.send(data);
    settleInBackground(c.ack(d.tag));
    for (const t of targets) this.throttle(t, c);
  }

  private throttle(t: Session, c: Consumer): void {
    if (!t.congested || !t.link) return;
    c.pause();
    t.link.whenDrained(() => c.resume());
  }

  /** For tests and admin: the raw text of a stanza in offline storage. */
  static offlinePayload(m: Message): string {
    return m.payload.toString('utf8');
  }

  /** Used by pubsub to address raw notifications. */
  escape(s: string): string {
    return escapeAttr(s);
  }
}

/**
 * An ack or nack of an offline or pubsub delivery nobody waits for. In a cluster it fails when the
 * queue's owner changed meanwhile; the message then stays stored and the next owner delivers it
 * again (at least once). Unhandled, the rejection would end the process.
 */
function settleInBackground(settlement: Promise<void>): void {
  settlement.catch(() => undefined);
}
