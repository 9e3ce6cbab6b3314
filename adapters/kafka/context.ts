/** What every Kafka API handler is given: the adapter's services and the request's connection. */
import type { AuthAction, AuthPlugin, Logger, Principal, SaslExchange, SaslService } from '../../core/adapter.js';
import type { Broker } from '../../core/broker.js';
import type { ClientConnection, ProtocolConnections } from '../../core/connection-registry.js';
import type { KafkaSettings } from './config.js';
import type { GroupCoordinator } from './group/coordinator.js';
import type { Struct } from './protocol/schema.js';
import type { Topics } from './topics.js';

export interface KafkaServices {
  broker: Broker;
  settings: KafkaSettings;
  auth: AuthPlugin;
  sasl: SaslService;
  log: Logger;
  topics: Topics;
  groups: GroupCoordinator;
  /** Clients must authenticate (SASL) before anything but ApiVersions and the SASL APIs. */
  authRequired: boolean;
  /** The broker's registry of client connections. */
  clients: ProtocolConnections;
}

/** The parts of a connection handlers use. */
export interface ConnectionState {
  readonly id: string;
  readonly clientHost: string;
  /** Host and port this client should be told to connect to (Metadata, FindCoordinator). */
  readonly advertised: { host: string; port: number };
  principal: Principal | null;
  /** This connection in the broker's registry (records in and out are counted on it). */
  readonly client: ClientConnection;
  /** The SASL exchange after SaslHandshake; `started` once its first token arrived. */
  sasl: { exchange: SaslExchange; mechanism: string; started: boolean } | null;
  /** After SaslHandshake the client may send bare SASL tokens (kafka-python, handshake v0). */
  saslRawTokens: boolean;
  /** Resolves when the connection closes. */
  readonly closed: Promise<void>;
  /** Calls `wake` once the connection closes; returns the way to cancel (no lasting reaction on `closed`). */
  whenClosed(wake: () => void): () => void;
  readonly isClosed: boolean;
  /** Closes the connection after the responses queued so far. */
  closeAfterResponses(reason: string): void;
  /**
   * Counts `bytes` as waiting for storage until `done` settles, pausing the socket while too much
   * waits (acks=0 produces are answered before their batches are stored).
   */
  holdWhileStoring(bytes: number, done: Promise<unknown>): void;
}

export interface RequestContext {
  services: KafkaServices;
  conn: ConnectionState;
  apiKey: number;
  apiVersion: number;
  correlationId: number;
  clientId: string;
}

/** A handler returns the response struct, or null when the request gets no response (Produce acks=0). */
export type Handler = (ctx: RequestContext, request: Struct) => Struct | null | Promise<Struct | null>;

const ANONYMOUS: Principal = Object.freeze({ user: 'anonymous', anonymous: true });

export function principalOf(ctx: RequestContext): Principal {
  return ctx.conn.principal ?? ANONYMOUS;
}

export function allowed(ctx: RequestContext, action: AuthAction, address: string): boolean {
  return ctx.services.auth.authorise(principalOf(ctx), action, address);
}
