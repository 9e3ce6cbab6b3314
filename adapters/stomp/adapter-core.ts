/** What a STOMP connection and its handlers need from the adapter. */
import type { AuthPlugin, Logger } from '../../core/adapter.js';
import type { Broker } from '../../core/broker.js';
import type { ProtocolConnections } from '../../core/connection-registry.js';
import type { StompSettings } from './config.js';
import type { StompConnection } from './connection.js';
import type { StompContext } from './context.js';

export interface StompAdapterCore {
  readonly broker: Broker;
  readonly auth: AuthPlugin;
  readonly log: Logger;
  readonly settings: StompSettings;
  /** The broker's registry of client connections. */
  readonly clients: ProtocolConnections;
  /** Claims an ActiveMQ-style client-id for `conn`; false when another connection holds it. */
  claimClientId(clientId: string, conn: StompContext): boolean;
  releaseClientId(clientId: string, conn: StompConnection): void;
  connectionClosed(conn: StompConnection): void;
}
