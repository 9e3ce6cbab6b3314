/**
 * Session records and QoS 2 in-flight state, kept by the core in broker.metadata (the adapter has
 * no store of its own):
 *
 * - namespace `mqtt-session`, key = client id: JSON SessionRecord (subscriptions with their
 *   options, session expiry interval, when the client disconnected);
 * - namespace `mqtt-inflight`, key = `<client id>\0<kind><packet id>`: kind `i` = an incoming
 *   QoS 2 PUBLISH received (PUBREL awaited; value: the publish's Message.publishId, so a resend
 *   after a failure is stored once), `o` = an outgoing QoS 2 PUBLISH sent
 *   (value: the core sequence number of the message, so a resend keeps its packet id), `r` = an
 *   outgoing PUBREL pending (PUBCOMP awaited).
 *
 * The session's messages are in its durable core queue `mqtt.session.<client id>`.
 */
import type { MetadataStore } from '../../core/metadata.js';

export const NS_SESSION = 'mqtt-session';
export const NS_INFLIGHT = 'mqtt-inflight';

export interface SubscriptionOptions {
  qos: 0 | 1 | 2;
  /** No local (MQTT 5). */
  nl?: boolean;
  /** Retain as published (MQTT 5). */
  rap?: boolean;
  /** Retain handling (MQTT 5): 0 send retained, 1 only if new, 2 never. */
  rh?: 0 | 1 | 2;
  /** Subscription identifier (MQTT 5). */
  id?: number;
}

export interface SessionRecord {
  v: 1;
  /** Session expiry interval in seconds (0xFFFFFFFF = never). */
  expiry: number;
  /** ms since epoch; null while connected. */
  disconnectedAt: number | null;
  /** Protocol version of the last connection. */
  protocol: number;
  subs: Record<string, SubscriptionOptions>;
  /** In a cluster: the node that manages the session (its client's node, or the last one). */
  node?: number;
}

export type InflightKind = 'i' | 'o' | 'r';

export interface InflightState {
  /** packet id -> publishId ('' in records written before publish ids). */
  inbound: Map<number, string>;
  pubrel: number[];
  /** packet id -> core sequence number. */
  outbound: Map<number, number>;
}

const EMPTY = Buffer.alloc(0);

export class SessionStore {
  constructor(private readonly metadata: MetadataStore) {}

  get(clientId: string): SessionRecord | undefined {
    try {
      const r = this.metadata.getJson<SessionRecord>(NS_SESSION, clientId);
      return r && r.v === 1 && typeof r.subs === 'object' ? r : undefined;
    } catch {
      return undefined;
    }
  }

  put(clientId: string, record: SessionRecord): Promise<void> {
    return this.metadata.putJson(NS_SESSION, clientId, record);
  }

  clientIds(): string[] {
    return [...this.metadata.entries(NS_SESSION).keys()];
  }

  /** Deletes the record and every in-flight key of the client, as one journal group. */
  delete(clientId: string): Promise<void> {
    const changes = this.inflightKeys(clientId).map((key) => ({ ns: NS_INFLIGHT, key, value: undefined }));
    if (this.metadata.has(NS_SESSION, clientId)) changes.push({ ns: NS_SESSION, key: clientId, value: undefined });
    return changes.length ? this.metadata.batch(changes) : Promise.resolve();
  }

  inflight(clientId: string): InflightState {
    const state: InflightState = { inbound: new Map(), pubrel: [], outbound: new Map() };
    const prefix = `${clientId}\u0000`;
    for (const [key, value] of this.metadata.entries(NS_INFLIGHT)) {
      if (!key.startsWith(prefix)) continue;
      const kind = key.charAt(prefix.length);
      const id = Number(key.slice(prefix.length + 1));
      if (!(id >= 1 && id <= 65535)) continue;
      if (kind === 'i') state.inbound.set(id, value.toString('utf8'));
      else if (kind === 'r') state.pubrel.push(id);
      else if (kind === 'o') state.outbound.set(id, Number(value.toString('utf8')));
    }
    return state;
  }

  /** `value`: the core sequence number of an `o` record, the publish id of an `i` record. */
  putInflight(clientId: string, kind: InflightKind, id: number, value?: number | string): Promise<void> {
    return this.metadata.put(NS_INFLIGHT, key(clientId, kind, id), value === undefined ? EMPTY : Buffer.from(String(value)));
  }

  deleteInflight(clientId: string, kind: InflightKind, id: number): Promise<void> {
    return this.metadata.delete(NS_INFLIGHT, key(clientId, kind, id));
  }

  /** An outgoing QoS 2 message was received by the client: its PUBLISH state becomes PUBREL state. */
  released(clientId: string, id: number): Promise<void> {
    return this.metadata.batch([
      { ns: NS_INFLIGHT, key: key(clientId, 'o', id), value: undefined },
      { ns: NS_INFLIGHT, key: key(clientId, 'r', id), value: EMPTY },
    ]);
  }

  /** Client ids that have in-flight keys (for clean-up of orphans at start). */
  inflightClientIds(): Set<string> {
    const out = new Set<string>();
    for (const k of this.metadata.entries(NS_INFLIGHT).keys()) out.add(k.slice(0, k.indexOf('\u0000')));
    return out;
  }

  private inflightKeys(clientId: string): string[] {
    const prefix = `${clientId}\u0000`;
    return [...this.metadata.entries(NS_INFLIGHT).keys()].filter((k) => k.startsWith(prefix));
  }
}

function key(clientId: string, kind: InflightKind, id: number): string {
  return `${clientId}\u0000${kind}${id}`;
}
