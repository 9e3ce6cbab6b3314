/**
 * The XMPP hub in a cluster: users connected to other nodes are reachable as if they were here.
 * - Where a user is available: PresenceDirectory (shared metadata `xmpp-presence`).
 * - Presence broadcasts need no routing: a node that sees another node's presence record of a user
 *   change sends the new presence (or unavailable) to its own sessions of the user's subscribers
 *   and of the user's other resources. Probes and the presence sent at login read the records.
 * - Messages, directed and subscription presence, IQs to a full JID, and "send X's presence to Y"
 *   go to the node(s) where the addressee is available through NodeInbox. A message whose node
 *   cannot be reached (gone, inbox full) is stored offline instead.
 * - Roster pushes: rosters are shared metadata, so a node that sees a user's roster record change
 *   pushes the changed items to its own sessions of that user. A subscription stanza carries the
 *   roster versions its sender wrote first; the receiving node waits until it sees them, so the
 *   client's answer is handled against the roster its request produced.
 * - Offline and pubsub queues are shared queues (any node sends, consumers anywhere); a node
 *   starts a user's consumers when such a queue appears while the user is connected here.
 */
import { NS_SHARED_QUEUE } from '../../core/broker.js';
import type { Hub } from './hub.js';
import { offlineQueueName, pubsubQueueName } from './offline.js';
import { Jid, parseJid } from './jid.js';
import { NodeInbox, type Routed } from './node-inbox.js';
import { PresenceDirectory, type PresenceRecord, type ResourceState } from './presence-directory.js';
import { NS_ROSTER, type RosterItem, type RosterRecord } from './roster.js';
import { errorReply, out } from './stanza.js';
import { parseXml, x, XElement } from './xml.js';

const SUBSCRIPTION_TYPES = new Set(['subscribe', 'subscribed', 'unsubscribe', 'unsubscribed']);
/** How long a routed subscription stanza waits for the roster records its sender wrote. */
const ROSTER_WAIT_MS = 5000;

export class ClusterLink {
  readonly directory: PresenceDirectory;
  private readonly inbox: NodeInbox;
  private readonly rosterWaiters = new Map<string, Array<() => void>>();
  private stopped = false;

  constructor(private readonly hub: Hub) {
    this.directory = new PresenceDirectory(hub.broker, (bare, node, before, after) => this.presenceRecordChanged(bare, node, before, after), hub.log);
    this.inbox = new NodeInbox(hub.broker, (r) => this.receive(r), hub.log);
  }

  private get self(): number {
    return this.hub.broker.cluster.nodeId;
  }

  async start(): Promise<void> {
    const md = this.hub.broker.metadata;
    md.onRemoteChange(NS_ROSTER, (bare) => { if (!this.stopped) this.rosterChanged(bare); });
    md.onRemoteChange(NS_SHARED_QUEUE, (name, value) => { if (!this.stopped && value) this.queueAppeared(name); });
    await this.directory.start();
    await this.inbox.start();
  }

  stop(): void {
    this.stopped = true;
    this.directory.stop();
    this.inbox.stop();
  }

  // ---- this node's users ----------------------------------------------------------------------

  /** Records the user's available resources here (after any presence change or logout). */
  presenceChanged(bare: string): void {
    const resources: Record<string, ResourceState> = {};
    for (const s of this.hub.users.get(bare)?.availableSessions() ?? []) {
      if (!s.presence) continue;
      const p = s.presence.clone();
      delete p.attrs.to;
      p.attrs.from = s.full;
      resources[s.jid.resource] = { p: s.priority, x: out(p) };
    }
    void this.directory.publish(bare, resources);
  }

  // ---- to other nodes -------------------------------------------------------------------------

  /**
   * Sends a message to the nodes where `to` is available; when `fallback` and no node took it,
   * a chat or normal message goes to offline storage.
   */
  routeMessage(nodes: number[], to: Jid, el: XElement, fallback: boolean): void {
    const stanza = out(el);
    void Promise.all(nodes.map((n) => this.inbox.send(n, { op: 'message', to: to.full, stanza }))).then((done) => {
      const type = el.attr('type') ?? 'normal';
      if (fallback && !done.some(Boolean) && (type === 'chat' || type === 'normal')) this.hub.storeOffline(to.bare, el);
    });
  }

  /**
   * Directed or subscription presence to `to` on the nodes where it is available. Not a
   * subscription request: that is the `pending` entry the sender wrote into the contact's roster,
   * which the contact's nodes see (rosterChanged), even when it is written before the sender's
   * node has seen where the contact is.
   */
  routePresence(to: Jid, el: XElement): void {
    if (el.attr('type') === 'subscribe') return;
    const node = to.resource ? this.directory.nodeOf(to.bare, to.resource) : undefined;
    const nodes = to.resource ? (node === undefined ? [] : [node]) : this.directory.nodesOf(to.bare);
    if (nodes.length === 0) return;
    let after: Record<string, number> | undefined;
    if (SUBSCRIPTION_TYPES.has(el.attr('type') ?? '')) {
      after = {};
      for (const b of [parseJid(el.attr('from') ?? '')?.bare, to.bare]) if (b) after[b] = this.hub.roster.get(b).ver;
    }
    const stanza = out(el);
    for (const n of nodes) void this.inbox.send(n, { op: 'presence', to: to.full, stanza, after });
  }

  /** An IQ to a full JID available on another node; false when there is none. */
  routeIq(to: Jid, iq: XElement): boolean {
    const node = to.resource ? this.directory.nodeOf(to.bare, to.resource) : undefined;
    if (node === undefined) return false;
    void this.inbox.send(node, { op: 'iq', to: to.full, stanza: out(iq) }).then((ok) => {
      if (!ok) this.iqUndeliverable(iq, null);
    });
    return true;
  }

  /** Asks the nodes where `to` is available to send it `of`'s current presence (or unavailable). */
  routePresenceOf(op: 'presence-of' | 'unavailable-of', of: string, to: string): void {
    for (const n of this.directory.nodesOf(to)) void this.inbox.send(n, { op, to, of, stanza: '' });
  }

  // ---- from other nodes -----------------------------------------------------------------------

  private async receive(r: Routed): Promise<void> {
    if (r.op === 'presence-of' || r.op === 'unavailable-of') {
      if (!r.of || !parseJid(r.of) || !parseJid(r.to)) return;
      if (r.op === 'presence-of') this.hub.sendPresenceOfLocal(r.of, r.to);
      else this.hub.sendUnavailableOfLocal(r.of, r.to);
      return;
    }
    const to = parseJid(r.to);
    let el: XElement;
    try {
      el = parseXml(r.stanza);
    } catch {
      return;
    }
    if (!to || el.local !== r.op) return;
    switch (r.op) {
      case 'message':
        void this.hub.deliverMessage(to, el, null, true);
        return;
      case 'presence':
        if (r.after) await this.rosterVersions(r.after);
        this.hub.deliverPresence(to, el, true);
        return;
      case 'iq': {
        const target = this.hub.localSession(to);
        if (target) target.send(out(el));
        else this.iqUndeliverable(el, r.origin);
      }
    }
  }

  /** service-unavailable back to the sender of an IQ request (on `origin`, or here when null). */
  private iqUndeliverable(iq: XElement, origin: number | null): void {
    const type = iq.attr('type');
    if (type !== 'get' && type !== 'set') return;
    const reply = errorReply(iq, 'service-unavailable');
    const to = parseJid(reply.attr('to') ?? '');
    if (!to) return;
    if (origin === null || origin === this.self) this.hub.localSession(to)?.send(out(reply));
    else void this.inbox.send(origin, { op: 'iq', to: to.full, stanza: out(reply) });
  }

  /** Another node's presence record of `bare` changed: tell this node's sessions that follow it. */
  private presenceRecordChanged(bare: string, node: number, before: PresenceRecord | undefined, after: PresenceRecord | undefined): void {
    if (this.stopped) return;
    if (node === this.self) {
      this.presenceChanged(bare);
      return;
    }
    for (const [res, st] of Object.entries(after?.r ?? {})) {
      if (before?.r[res]?.x === st.x) continue;
      try {
        this.hub.presenceToFollowers(bare, parseXml(st.x));
      } catch { /* written by a node: always parses */ }
    }
    for (const res of Object.keys(before?.r ?? {})) {
      if (after?.r[res]) continue;
      this.hub.presenceToFollowers(bare, x('presence', { type: 'unavailable', from: `${bare}/${res}` }));
    }
  }

  /**
   * Another node changed `bare`'s roster: drop the cached copy, push changed items to the user's
   * sessions here, and show them new subscription requests.
   */
  private rosterChanged(bare: string): void {
    const roster = this.hub.roster;
    const old = roster.peek(bare);
    roster.forget(bare);
    const user = this.hub.users.get(bare);
    if (old && user) {
      const now = roster.get(bare);
      for (const from of Object.keys(now.pending)) {
        if (old.pending[from]) continue;
        const request = out(x('presence', { type: 'subscribe', from, to: bare }));
        for (const t of user.availableSessions()) t.send(request);
      }
    }
    if (old && user && [...user.sessions.values()].some((s) => s.rosterInterested)) {
      const now = roster.get(bare);
      const contacts = new Set([...Object.keys(old.items), ...Object.keys(now.items)]);
      for (const c of contacts) {
        const a: RosterItem | undefined = old.items[c];
        const b: RosterItem | undefined = now.items[c];
        if (!b) this.hub.push(bare, a, true);
        else if (JSON.stringify(a) !== JSON.stringify(b)) this.hub.push(bare, b);
      }
    }
    const waiters = this.rosterWaiters.get(bare);
    if (waiters) {
      this.rosterWaiters.delete(bare);
      for (const w of waiters) w();
    }
  }

  /** Resolves once this node sees each roster record at least at the given version (or after a timeout). */
  private async rosterVersions(after: Record<string, number>): Promise<void> {
    const deadline = Date.now() + ROSTER_WAIT_MS;
    for (const [bare, ver] of Object.entries(after)) {
      while (this.storedVersion(bare) < ver && Date.now() < deadline) {
        await new Promise<void>((resolve) => {
          const t = setTimeout(resolve, deadline - Date.now());
          let list = this.rosterWaiters.get(bare);
          if (!list) this.rosterWaiters.set(bare, (list = []));
          list.push(() => { clearTimeout(t); resolve(); });
        });
      }
    }
  }

  private storedVersion(bare: string): number {
    try {
      return this.hub.broker.metadata.getJson<RosterRecord>(NS_ROSTER, bare)?.ver ?? 0;
    } catch {
      return 0;
    }
  }

  /** A shared offline or pubsub queue became known here: consume it if its user is connected here. */
  private queueAppeared(name: string): void {
    for (const prefix of [offlineQueueName(''), pubsubQueueName('')]) {
      if (!name.startsWith(prefix)) continue;
      const bare = name.slice(prefix.length);
      const user = this.hub.users.get(bare);
      if (user) this.hub.refreshConsumers(bare, user);
    }
  }
}
