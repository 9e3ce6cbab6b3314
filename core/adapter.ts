/**
 * The protocol adapter seam (after Pulsar's ProtocolHandler): a protocol is a plug-in with a tiny
 * lifecycle and the core handed in. Adding a protocol touches no core file.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { SecureContextOptions } from 'node:tls';
import type { WebSocket } from 'ws';
import type { Broker } from './broker.js';
import type { ConnectionGate } from './connection-gate.js';

export interface Logger {
  info(obj: unknown, msg?: string): void;
  warn(obj: unknown, msg?: string): void;
  error(obj: unknown, msg?: string): void;
  debug(obj: unknown, msg?: string): void;
  child(bindings: Record<string, unknown>): Logger;
}

export interface Principal {
  user: string;
  anonymous: boolean;
}

export type AuthAction = 'publish' | 'subscribe' | 'consume' | 'admin';

export interface ScramCredentials {
  salt: Buffer;
  iterations: number;
  storedKey: Buffer;
  serverKey: Buffer;
}

export interface AuthPlugin {
  readonly anonymousAllowed: boolean;
  /** Null when the credentials are refused. No user (and anonymous allowed) gives the anonymous principal. */
  authenticate(protocol: string, user: string | undefined, secret: string | Buffer | undefined): Promise<Principal | null>;
  authorise(principal: Principal, action: AuthAction, address: string): boolean;
  scramCredentials(user: string, mechanism: 'SCRAM-SHA-1' | 'SCRAM-SHA-256' | 'SCRAM-SHA-512'): Promise<ScramCredentials | null>;
  /** In-band registration (XMPP XEP-0077); absent when registration is not possible. */
  register?(user: string, password: string): Promise<void>;
}

export interface HttpHost {
  /** Mounts a WebSocket endpoint; the subprotocol is chosen from `protocols`. */
  websocket(
    path: string,
    protocols: string[],
    onConnection: (ws: WebSocket, req: IncomingMessage) => void,
    options?: { requireProtocol?: boolean; maxPayload?: number },
  ): void;
  route(method: string, path: string, handler: (req: IncomingMessage, res: ServerResponse) => void): void;
}

export interface AdapterContext {
  broker: Broker;
  /** The whole configuration; an adapter reads its own section (config.mqtt, config.kafka, ...). */
  config: any; // eslint-disable-line @typescript-eslint/no-explicit-any -- typed in config/schema.ts
  auth: AuthPlugin;
  log: Logger;
  http: HttpHost | null;
  /**
   * Where this adapter listens, resolved by the platform from flags, env and config:
   * `port` null = plain listener disabled (port 0 on the command line); `tlsPort` null = no TLS
   * listener (no certificate configured). Port 0 asks for an ephemeral port (tests); pass it to listen() as is.
   */
  listen: { host: string; port: number | null; tlsPort: number | null };
  /** TLS options for a listener ('mqtt', 'amqp', 'stomp', 'xmpp', 'kafka'), or null when no certificate is configured. */
  tls(listener: string): SecureContextOptions | null;
  /** This adapter's connection limit (`limits.maxConnections`), shared by all of its listeners: admit every socket on accept. */
  connections: ConnectionGate;
}

export interface ListenerInfo {
  name: string;
  protocol: string;
  host: string;
  port: number;
  tls: boolean;
}

export interface ProtocolAdapter {
  readonly name: string;
  init(ctx: AdapterContext): Promise<void>;
  start(): Promise<ListenerInfo[]>;
  /** Stops accepting, closes connections, lets in-flight work settle. */
  stop(): Promise<void>;
}
