/**
 * What the frame handlers (handlers/*) see of their connection: this interface, not the
 * StompConnection class, so handlers and connection import no values of each other.
 */
import type { AuthAction, Logger, Principal } from '../../core/adapter.js';
import type { Broker } from '../../core/broker.js';
import type { ClientConnection } from '../../core/connection-registry.js';
import type { StompAdapterCore } from './adapter-core.js';
import type { StompSettings } from './config.js';
import type { StompFrame, StompVersion } from './frame.js';
import type { StompTransaction, Subscription, SubscriptionOwner } from './subscription.js';
import type { Transport } from './transport.js';

export type ConnectionState = 'new' | 'connecting' | 'connected' | 'closing' | 'closed';

export interface StompContext extends SubscriptionOwner {
  readonly id: string;
  readonly log: Logger;
  readonly adapter: StompAdapterCore;
  readonly transport: Transport;
  readonly client: ClientConnection;
  readonly settings: StompSettings;
  readonly broker: Broker;
  state: ConnectionState;
  readonly version: StompVersion;
  principal: Principal | null;
  clientId?: string;
  readonly subscriptions: Map<string, Subscription>;
  readonly subsByNum: Map<number, Subscription>;
  readonly transactions: Map<string, StompTransaction>;
  /** STOMP temp-queue name -> core queue name. */
  readonly tempQueues: Map<string, string>;
  /** True while deliveries can reach the client (subscribing makes sense). */
  readonly live: boolean;
  /** Sets the negotiated version (header unescaping of the following frames depends on it). */
  setVersion(v: StompVersion): void;
  nextSubscriptionNumber(): number;
  /** A fresh core queue name for this connection. */
  newQueueName(): string;
  /** An operation the frame's receipt waits for (SEND storage, ACK...). */
  track(done: Promise<void>, frame: StompFrame): void;
  /** Resolves once no tracked operation is outstanding. */
  whenIdle(): Promise<void>;
  receipt(frame: StompFrame): void;
  /** Throws a StompError when the principal may not do `action` on `address`. */
  authorise(action: AuthAction, address: string): void;
  sendFrame(command: string, headers: Record<string, string>, body?: Buffer | string): void;
  parseAckId(id: string): { num: number; tag: number };
  removeSubscription(sub: Subscription): void;
  /** CONNECT accepted: the heart-beats both ways. */
  connected(cx: number, cy: number): [number, number];
  close(reason?: string): void;
}
