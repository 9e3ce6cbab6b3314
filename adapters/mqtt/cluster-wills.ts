/**
 * Wills in a cluster. A will lives in the memory of the node its client is connected to; should
 * that node die, the will must still go out (the client's connection ended without DISCONNECT).
 * So, in a cluster only, a connection with a will also stores it as shared metadata (namespace
 * `mqtt-will`, key = client id) before CONNACK, naming its node; the record goes when the will is
 * discarded (DISCONNECT), published, or cancelled by a resumed session. The live node that
 * rendezvous hashing ranks first for the client id adopts the records of a node that left and
 * publishes each will after its delay, unless the client connects again first (its new node then
 * writes or deletes the record).
 */
import type { Principal } from '../../core/adapter.js';
import type { MqttContext } from './context.js';
import { publishWill, type WillPacket } from './will.js';

export const NS_WILL = 'mqtt-will';

interface WillRecord {
  v: 1;
  node: number;
  topic: string;
  /** base64 */
  payload: string;
  qos: 0 | 1 | 2;
  retain: boolean;
  properties?: WillPacket['properties'];
  /** Seconds after the disconnect (MQTT 5 will delay, capped by the session expiry). */
  delay: number;
  user: string;
  anonymous: boolean;
}

export class ClusterWills {
  constructor(private readonly ctx: MqttContext) {}

  private get self(): number {
    return this.ctx.broker.cluster.nodeId;
  }

  /** Stores the will of a client connected here (or deletes one left by an earlier connection). */
  async connected(clientId: string, will: WillPacket | null, delay: number, principal: Principal): Promise<void> {
    if (!will) return this.discard(clientId, true);
    const payload = typeof will.payload === 'string' ? Buffer.from(will.payload) : will.payload;
    const rec: WillRecord = {
      v: 1, node: this.self, topic: will.topic, payload: payload.toString('base64'), qos: (will.qos ?? 0) as 0 | 1 | 2,
      retain: !!will.retain, properties: will.properties, delay, user: principal.user, anonymous: principal.anonymous,
    };
    await this.ctx.broker.metadata.putJson(NS_WILL, clientId, rec);
  }

  /** The will was published, discarded or cancelled here: its record goes (only this node's, unless `any`). */
  async discard(clientId: string, any = false): Promise<void> {
    const rec = this.record(clientId);
    if (!rec || (!any && rec.node !== this.self)) return;
    await this.ctx.broker.metadata.delete(NS_WILL, clientId);
  }

  /** Wills held by nodes that are gone and ranked to this node: scheduled here, as their node would have. */
  adoptOrphans(live: Set<number>): number {
    const { broker, sessions } = this.ctx;
    let adopted = 0;
    for (const clientId of broker.metadata.entries(NS_WILL).keys()) {
      const rec = this.record(clientId);
      if (!rec || live.has(rec.node) || sessions.connections.has(clientId)) continue;
      if (broker.cluster.coordinator(`${NS_WILL}\u0000${clientId}`) !== this.self) continue;
      const will: WillPacket = { topic: rec.topic, payload: Buffer.from(rec.payload, 'base64'), qos: rec.qos, retain: rec.retain, properties: rec.properties };
      const principal: Principal = { user: rec.user, anonymous: rec.anonymous };
      void broker.metadata.putJson(NS_WILL, clientId, { ...rec, node: this.self })
        .then(() => sessions.scheduleWill(clientId, rec.delay, () => publishWill(this.ctx, will, clientId, principal)))
        .catch((err: Error) => this.ctx.log.warn({ err: err.message, clientId }, 'mqtt: adopting a will failed (retried)'));
      adopted++;
    }
    return adopted;
  }

  private record(clientId: string): WillRecord | undefined {
    try {
      const r = this.ctx.broker.metadata.getJson<WillRecord>(NS_WILL, clientId);
      return r && r.v === 1 && typeof r.topic === 'string' ? r : undefined;
    } catch {
      return undefined;
    }
  }
}
