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

export type ScramMechanismName = 'SCRAM-SHA-1' | 'SCRAM-SHA-256' | 'SCRAM-SHA-512';

export interface AuthPlugin {
  readonly anonymousAllowed: boolean;
  /** True when users are configured (a users file or a user store): XMPP registration is then off unless enabled explicitly. */
  readonly usersConfigured?: boolean;
  /**
   * Null when the credentials are refused. No user (and anonymous allowed) gives the anonymous principal.
   * `remote` is the client's IP address (no port): failed logins are counted and limited per address.
   */
  authenticate(protocol: string, user: string | undefined, secret: string | Buffer | undefined, remote?: string): Promise<Principal | null>;
  authorise(principal: Principal, action: AuthAction, address: string): boolean;
  /**
   * The SCRAM keys to challenge `user` with. A name without keys gets stable fake ones (same salt
   * length and iteration count), so the exchange does not tell which names exist; the proof is
   * then refused by verifyScram(). Null only when `remote` is refused for too many failures.
   */
  scramCredentials(user: string, mechanism: ScramMechanismName, remote?: string): Promise<ScramCredentials | null>;
  /**
   * Checks a SCRAM client proof against credentials from scramCredentials() (or kept by the
   * adapter); logs and counts a failure. Returns the principal and the server signature, or null.
   */
  verifyScram(
    protocol: string, user: string, mechanism: ScramMechanismName, creds: ScramCredentials, authMessage: string, proof: Buffer, remote?: string,
  ): Promise<{ principal: Principal; serverSignature: Buffer } | null>;
  /** Whether `user` exists (XMPP offline delivery to known accounts); never answer unauthenticated clients with it. */
  hasUser?(user: string): Promise<boolean>;
  /** Refused logins so far, per protocol (the `protocol` given to authenticate and verifyScram). */
  failureCounts?(): ReadonlyMap<string, number>;
  /** In-band registration (XMPP XEP-0077); absent when registration is not possible. */
  register?(user: string, password: string): Promise<void>;
}

/**
 * SASL as one protocol-neutral service (implemented in plugins/auth/sasl.ts): an adapter asks which
 * mechanisms a connection is offered, opens one exchange per connection and feeds it the client's
 * messages; it only maps outcomes onto its protocol's frames.
 */
export type SaslOutcome =
  | { kind: 'challenge'; data: Buffer }
  /** `data`: additional data with success (the SCRAM server-final message), when there is some. */
  | { kind: 'success'; principal: Principal; data?: Buffer }
  | { kind: 'failure'; reason: SaslFailure; message: string };

/** RFC 6120 section 6.5 names, which the other protocols map onto their own codes. */
export type SaslFailure = 'invalid-mechanism' | 'malformed-request' | 'not-authorized' | 'invalid-authzid' | 'aborted';

/** A TLS socket as far as EXTERNAL needs it (node's TLSSocket fits). */
export interface SaslTlsPeer {
  readonly authorized: boolean;
  getPeerCertificate(): { subject?: Record<string, string | string[] | undefined> } | null;
}

export interface SaslPeer {
  /** The adapter's name: for the log, failure counts and the listener's TLS settings. */
  protocol: string;
  /** The client's IP address, for the per-address failed-login limit. */
  remote?: string;
  /** The TLS socket when the connection is encrypted (EXTERNAL reads its client certificate). */
  tls?: SaslTlsPeer | null;
  /** An authorisation id `user@domain` is the user itself (XMPP). */
  domain?: string;
  /** Where passwords and SCRAM keys are checked; default: the auth plugin. */
  credentials?: SaslCredentials;
}

/** What the mechanisms check credentials against. */
export interface SaslCredentials {
  checkPassword(user: string, password: string, remote?: string): Promise<Principal | null>;
  scramCredentials(user: string, mechanism: ScramMechanismName, remote?: string): Promise<ScramCredentials | null>;
  verifyScram(
    user: string, mechanism: ScramMechanismName, creds: ScramCredentials, authMessage: string, proof: Buffer, remote?: string,
  ): Promise<{ principal: Principal; serverSignature: Buffer } | null>;
}

/** One connection's SASL exchange. start() may be called again after a failure (XMPP retries). */
export interface SaslExchange {
  /** The mechanism in progress (or last used). */
  readonly mechanism: string | null;
  /** `initial`: null when the client sent no initial response (the mechanism then challenges). */
  start(mechanism: string, initial: Buffer | null): Promise<SaslOutcome>;
  step(response: Buffer): Promise<SaslOutcome>;
}

export interface SaslService {
  /** Every mechanism the service knows, strongest first. */
  readonly known: readonly string[];
  /** Of `wanted` (default: all known), those this peer may use now, in `wanted`'s order. */
  offered(peer: SaslPeer, wanted?: readonly string[]): string[];
  exchange(peer: SaslPeer): SaslExchange;
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
  /** SASL mechanisms over `auth` (PLAIN, SCRAM-SHA-1/256/512, EXTERNAL, ANONYMOUS) for every adapter. */
  sasl: SaslService;
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
  /**
   * JSON Schema of the adapter's configuration section (`config[name]`), with every key's default.
   * The platform validates it with the whole configuration, so init() reads typed, complete
   * settings; an unknown key or a bad value stops start-up naming the key.
   */
  readonly settingsSchema?: object;
  init(ctx: AdapterContext): Promise<void>;
  start(): Promise<ListenerInfo[]>;
  /** Stops accepting, closes connections, lets in-flight work settle. */
  stop(): Promise<void>;
}
