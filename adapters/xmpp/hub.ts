/**
 * The IM server (RFC 6121): bound sessions by bare and full JID, stream-management resumption
 * (XEP-0198) and stanza dispatch. Each job is its own module, reached through this hub:
 * routing.ts (messages), presence.ts, roster-handlers.ts (rosters and subscriptions), iq.ts
 * (the server's own IQs), offline.ts (offline storage and the per-user core queue consumers),
 * pubsub.ts. In a cluster, `cluster` (cluster-link.ts) reaches the users connected to other nodes.
 */
import { randomBytes } from 'node:crypto';
import type { AuthPlugin, Logger } from '../../core/adapter.js';
import type { Consumer } from '../../core/queue-consumer.js';
import type { Broker } from '../../core/broker.js';
import { RateLimitedLog } from '../../core/rate-limited-log.js';
import type { Accounts } from './accounts.js';
import { ClusterLink } from './cluster-link.js';
import type { XmppSettings } from './config.js';
import * as iqs from './iq.js';
import { Jid, parseJid } from './jid.js';
import * as offline from './offline.js';
import * as presence from './presence.js';
import type { PubSubService } from './pubsub.js';
import { RosterStore, type RosterItem } from './roster.js';
import * as rosters from './roster-handlers.js';
import * as routing from './routing.js';
import type { Session, SessionLink } from './session.js';
import { Session as SessionClass } from './session.js';
import { errorReply, out } from './stanza.js';
import { parseXml, x, type XElement } from './xml.js';

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

export class Hub {
  readonly users = new Map<string, UserEntry>();
  readonly bySmId = new Map<string, Session>();
  readonly roster: RosterStore;
  pubsub!: PubSubService;
  readonly pubsubDomain: string;
  /** Accounts known to exist (a message to anyone else is checked with the auth plugin first). */
  readonly knownAccounts = new Set<string>();
  /** Per recipient: the offline store in progress (stores are chained to keep order). */
  readonly offlineChains = new Map<string, Promise<void>>();
  /** Null on a single node. */
  readonly cluster: ClusterLink | null;
  /** Refused offline messages (a full offline queue refuses every message while it stays full). */
  readonly refusals: RateLimitedLog;

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

  reply(s: Session, el: XElement): void {
    s.send(out(el));
  }

  bounce(s: Session, el: XElement, condition: string, text?: string): void {
    if (el.attr('type') === 'error') return;
    const r = errorReply(el, condition, text);
    r.attrs.to = s.full;
    s.send(out(r));
  }

  // ---- messages -------------------------------------------------------------------------------

  onMessage(s: Session, el: XElement): void | Promise<void> {
    return routing.onMessage(this, s, el);
  }

  /**
   * Routes a message to a local JID (RFC 6121 8.5). Returns a promise while a recipient is congested.
   * `routed`: it came from another node, which already chose this one (no further routing).
   */
  deliverMessage(to: Jid, el: XElement, sender: Session | null, routed = false): void | Promise<void> {
    return routing.deliverMessage(this, to, el, sender, routed);
  }

  /**
   * Keeps a message in `xmpp.offline.<bare>` (in order per recipient); bounces when impossible.
   * Resolves (never rejects) once the message is stored or bounced.
   */
  storeOffline(bare: string, el: XElement, sender?: Session): Promise<void> {
    return offline.storeOffline(this, bare, el, sender);
  }

  // ---- presence -------------------------------------------------------------------------------

  onPresence(s: Session, el: XElement): void | Promise<void> {
    return presence.onPresence(this, s, el);
  }

  /** Presence to a JID: its sessions here and, unless `routed` from another node, its other nodes. */
  deliverPresence(to: Jid, el: XElement, routed = false): void {
    presence.deliverPresence(this, to, el, routed);
  }

  /** Sends `el` (from s) to subscribed contacts' available resources and to the user's own. */
  broadcastPresence(s: Session, el: XElement): void {
    presence.broadcastPresence(this, s, el);
  }

  /**
   * Sends `el`, a presence of one of `bare`'s resources, to the available sessions here of the
   * contacts subscribed to `bare` and of `bare` itself (and to `also`, the resource that sent it).
   */
  presenceToFollowers(bare: string, el: XElement, also?: Session): void {
    presence.presenceToFollowers(this, bare, el, also);
  }

  /** The current presence of every available resource of `bare` (on any node), to one session. */
  sendPresenceOf(bare: string, to: Session): void {
    presence.sendPresenceOf(this, bare, to);
  }

  /** `of`'s current presence to the available sessions of `to` on this node. */
  sendPresenceOfLocal(of: string, to: string): void {
    presence.sendPresenceOfLocal(this, of, to);
  }

  // ---- subscriptions (RFC 6121 3) -------------------------------------------------------------

  onSubscription(s: Session, type: string, contact: Jid): Promise<void> {
    return rosters.onSubscription(this, s, type, contact);
  }

  /** Tells `to`'s available resources that `of`'s resources are unavailable (subscription ended). */
  sendUnavailableOf(of: string, to: string): void {
    presence.sendUnavailableOf(this, of, to);
  }

  /** sendUnavailableOf for the sessions of `to` on this node. */
  sendUnavailableOfLocal(of: string, to: string): void {
    presence.sendUnavailableOfLocal(this, of, to);
  }

  /** Roster push (RFC 6121 2.1.6) to every resource of `owner` here that asked for the roster. */
  push(owner: string, item: RosterItem, remove = false): void {
    rosters.push(this, owner, item, remove);
  }

  // ---- IQ -------------------------------------------------------------------------------------

  onIq(s: Session, iq: XElement): void | Promise<void> {
    return iqs.onIq(this, s, iq);
  }

  rosterIq(s: Session, iq: XElement, q: XElement): void | Promise<void> {
    return rosters.rosterIq(this, s, iq, q);
  }

  // ---- core queue consumers -------------------------------------------------------------------

  /** Starts or stops the user's consumers to match whether any resource is available. */
  refreshConsumers(bare: string, user: UserEntry | undefined): void {
    offline.refreshConsumers(this, bare, user);
  }

  /** Called by pubsub after the user's pubsub queue is created. */
  queueCreated(bare: string): void {
    this.refreshConsumers(bare, this.users.get(bare));
  }
}
