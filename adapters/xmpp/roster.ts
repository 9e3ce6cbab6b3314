/**
 * Rosters (RFC 6121 section 2) and presence subscription state (section 3), kept in the core's
 * metadata, namespace `xmpp-roster`, one JSON record per bare JID. Parsed records are cached.
 */
import type { MetadataStore } from '../../core/metadata.js';
import { NS } from './ns.js';
import { x, XElement } from './xml.js';

export const NS_ROSTER = 'xmpp-roster';

export type Subscription = 'none' | 'to' | 'from' | 'both';

export interface RosterItem {
  jid: string;
  name?: string;
  groups: string[];
  subscription: Subscription;
  /** We asked this contact for a subscription (`ask='subscribe'`). */
  ask?: boolean;
  /** Subscription pre-approved (RFC 6121 3.4). */
  approved?: boolean;
}

export interface RosterRecord {
  items: Record<string, RosterItem>;
  /** Inbound subscription requests not answered yet, by bare JID. */
  pending: Record<string, true>;
  ver: number;
}

export class RosterStore {
  private readonly cache = new Map<string, RosterRecord>();

  constructor(private readonly metadata: MetadataStore) {}

  get(bare: string): RosterRecord {
    let r = this.cache.get(bare);
    if (!r) {
      r = this.metadata.getJson<RosterRecord>(NS_ROSTER, bare) ?? { items: {}, pending: {}, ver: 0 };
      r.pending ??= {};
      if (this.cache.size > 10000) this.cache.delete(this.cache.keys().next().value!);
      this.cache.set(bare, r);
    }
    return r;
  }

  /** Writes the changed records as one atomic group. */
  save(...bares: string[]): Promise<void> {
    const changes = [...new Set(bares)].map((b) => {
      const r = this.get(b);
      r.ver++;
      return { ns: NS_ROSTER, key: b, value: Buffer.from(JSON.stringify(r), 'utf8') };
    });
    return this.metadata.batch(changes);
  }

  item(owner: string, contact: string): RosterItem | undefined {
    return this.get(owner).items[contact];
  }

  ensureItem(owner: string, contact: string): RosterItem {
    const r = this.get(owner);
    return (r.items[contact] ??= { jid: contact, groups: [], subscription: 'none' });
  }

  /** The cached record, without loading it. */
  peek(bare: string): RosterRecord | undefined {
    return this.cache.get(bare);
  }

  forget(bare: string): void {
    this.cache.delete(bare);
  }
}

export function itemElement(item: RosterItem, remove = false): XElement {
  const el = x('item', {
    jid: item.jid,
    name: item.name,
    subscription: remove ? 'remove' : item.subscription,
    ask: !remove && item.ask ? 'subscribe' : undefined,
    approved: !remove && item.approved ? 'true' : undefined,
  });
  if (!remove) for (const g of item.groups) el.c(x('group', null, g));
  return el;
}

export function rosterQuery(items: RosterItem[], ver?: number): XElement {
  const q = x('query', { xmlns: NS.roster, ver: ver === undefined ? undefined : String(ver) });
  for (const i of items) q.c(itemElement(i));
  return q;
}

/** Has presence flowing from `item`'s contact to the owner (owner subscribed to contact). */
export function hasTo(s: Subscription): boolean {
  return s === 'to' || s === 'both';
}

/** Owner's presence flows to the contact. */
export function hasFrom(s: Subscription): boolean {
  return s === 'from' || s === 'both';
}

export function addTo(s: Subscription): Subscription {
  return s === 'none' ? 'to' : s === 'from' ? 'both' : s;
}
export function addFrom(s: Subscription): Subscription {
  return s === 'none' ? 'from' : s === 'to' ? 'both' : s;
}
export function removeTo(s: Subscription): Subscription {
  return s === 'to' ? 'none' : s === 'both' ? 'from' : s;
}
export function removeFrom(s: Subscription): Subscription {
  return s === 'from' ? 'none' : s === 'both' ? 'to' : s;
}
