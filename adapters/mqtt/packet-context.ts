/**
 * What the packet handlers (handlers/*) see of their connection: this interface, not the
 * MqttConnection class, so handlers and connection import no values of each other.
 */
import type { Principal } from '../../core/adapter.js';
import type { ClientConnection } from '../../core/connection-registry.js';
import type { Packet } from './codec.js';
import type { AckSlot } from './ack-order.js';
import type { MqttContext } from './context.js';
import type { EnhancedAuth } from './handlers/auth.js';
import type { Session, SessionLink } from './session.js';
import type { SessionHolder } from './sessions.js';
import type { WillPacket } from './will.js';

export type ConnectionState = 'new' | 'connecting' | 'connected' | 'closing' | 'closed';

export interface PacketContext extends SessionLink, SessionHolder {
  readonly ctx: MqttContext;
  readonly client: ClientConnection;
  readonly remote: string;
  state: ConnectionState;
  version: number;
  readonly v5: boolean;
  clientId: string;
  principal: Principal | null;
  /** The Authentication Method of CONNECT (MQTT 5 enhanced authentication), for re-authentication. */
  authMethod: string | null;
  /** An enhanced-authentication exchange in progress (handlers/auth.ts). */
  enhancedAuth: EnhancedAuth | null;
  session: Session | null;
  will: WillPacket | null;
  willDelay: number;
  /** DISCONNECT with reason 0 received: the will is discarded. */
  graceful: boolean;
  clientMaxPacketSize: number;
  clientTopicAliasMax: number;
  /** MQTT 5 Request Problem Information: reason strings allowed on acknowledgements. */
  problemInfo: boolean;
  /** MQTT 5 topic aliases the client set (made on first use). */
  inboundAliases: Map<number, string> | null;
  /** QoS 1 PUBLISHes not acknowledged yet (receive maximum accounting). */
  inboundQos1: number;
  sendPacket(packet: Packet): void;
  /** Called once the client's Topic Alias Maximum is known. */
  enableOutboundAliases(): void;
  startKeepAlive(seconds: number): void;
  ackSlot(): AckSlot;
  fillAck(slot: AckSlot, buf: Buffer | null): void;
  mayPublish(topic: string): boolean;
  coreTopic(topic: string): string;
  publishStarted(): void;
  publishSettled(): void;
  /** Callbacks settling a QoS 0 publish's storage (counted like QoS 1/2 for ordering). */
  qos0Settle(): [() => void, (err: unknown) => void];
  fail(reasonCode: number, reason: string, level?: 'warn' | 'debug'): void;
  /** Half-closes after pending writes. */
  end(): void;
}
