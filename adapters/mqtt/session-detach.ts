/**
 * The end of a connection for its session (MQTT 3.1.2.4, 3.1.3.2): the will is published or
 * scheduled, and the session ends (expiry 0) or is stored and starts its expiry. In a cluster a
 * session that moved to another node is left to that node.
 */
import type { Principal } from '../../core/adapter.js';
import type { MqttContext } from './context.js';
import type { Session } from './session.js';
import { publishWill, type WillPacket } from './will.js';

export interface Detaching {
  ctx: MqttContext;
  clientId: string;
  session: Session;
  /** The connection ending (removed from the live connections if it is still the one there). */
  holder: object;
  /** The will as CONNECT gave it (null: none). */
  will: WillPacket | null;
  /** The will is discarded (DISCONNECT with reason 0, or the broker stopping). */
  discardWill: boolean;
  willDelay: number;
  principal: Principal | null;
  /** The session moved to another node of a cluster: its record is not written from here again. */
  movedAway: boolean;
}

export async function detachSession(d: Detaching): Promise<void> {
  const { session, clientId } = d;
  const { sessions, store } = d.ctx;
  if (sessions.connections.get(clientId) === d.holder) sessions.connections.delete(clientId);
  session.detach();
  const ends = session.expiry === 0;
  const will = d.discardWill ? null : d.will;
  // Discarded (the broker stopping; DISCONNECT deleted it already): its cluster record goes, unless another node has the client now.
  if (d.will && !will && !d.movedAway) void sessions.clusterWills?.discard(clientId).catch(() => undefined);
  if (will) {
    const principal = d.principal!;
    sessions.scheduleWill(clientId, ends ? 0 : Math.min(d.willDelay, session.expiry), () => publishWill(d.ctx, will, clientId, principal));
  }
  if (d.movedAway) {
    sessions.cancelWill(clientId);
  } else if (ends) {
    await sessions.endSession(clientId, session.sharedQueues());
  } else {
    const now = Date.now();
    await store.put(clientId, session.record(now));
    sessions.scheduleExpiry(clientId, session.expiry, now);
  }
}
