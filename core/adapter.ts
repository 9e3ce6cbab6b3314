/**
 * The protocol adapter seam (after Pulsar's ProtocolHandler): a protocol is a plug-in with a tiny
 * lifecycle and the core handed in. Adding a protocol touches no core file.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { SecureContextOptions, TlsOptions } from 'node:tls';
import type { WebSocket } from 'ws';
import type { Broker } from './broker.js';
import type { ProtocolConnections } from './connection-registry.js';

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
    options?: {
      requireProtocol?: boolean;
      maxPayload?: number;
      /** Checked on the HTTP socket before the upgrade is answered; false = the socket is destroyed without a byte. */
      admit?: (socket: Socket) => boolean;
    },
  ): void;
  /** Where the HTTP listener is bound (null before it listens). */
  readonly bound: { host: string; port: number; tls: boolean } | null;
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
   * Where this adapter listens, resolved by the platform from flags, env and config (the listener
   * service opens these): `port` null = plain listener disabled (port 0 on the command line);
   * `tlsPort` null = no TLS listener (no certificate configured). Port 0 or -1 = an ephemeral port.
   */
  listen: { host: string; port: number | null; tlsPort: number | null };
  /** TLS options for a listener ('mqtt', 'amqp', 'stomp', 'xmpp', 'kafka'), or null when no certificate is configured (XMPP's STARTTLS reads it). */
  tls(listener: string): SecureContextOptions | null;
  /**
   * This adapter's endpoints (implemented in plugins/listeners): TCP, TLS and WebSocket listeners
   * named `<protocol>`, `<protocol>-tls` and `<protocol>-ws`, one connection limit across them
   * (`limits.maxConnections`), the per-address connection rate (`limits.connectionRate`), TLS
   * handshake and idle timeouts, and the drain on stop.
   */
  listeners: ListenerService;
  /** This adapter's client connections: the registry behind /api/connections and /metrics. */
  clients: ProtocolConnections;
}

/** A transport the listener service admitted and handed to the adapter. */
export interface AcceptedConnection {
  /** The listener's name: `<protocol>`, `<protocol>-tls` or `<protocol>-ws`. */
  readonly listener: string;
  readonly kind: 'tcp' | 'tls' | 'ws';
  /** `address:port` of the client. */
  readonly remote: string;
  /** The client's IP address. */
  readonly address: string | undefined;
  /** The TCP or TLS socket; for a WebSocket, the HTTP socket under it (byte counts, TLS peer). */
  readonly socket: Socket;
}

/** What the listener service needs of a connection it tracks. */
export interface ServedConnection {
  /**
   * The broker is stopping: end the connection the protocol's way. The drain waits for the
   * transport's close event (and for a returned promise); after the grace time it destroys it.
   */
  shutdown(): void | Promise<void>;
  /** No byte moved either way for the listener's `idleTimeoutMs`; default: the socket is destroyed. */
  idle?(): void;
}

export interface WebSocketEndpointSpec {
  /** Path on the HTTP listener; null = no WebSocket endpoint. */
  path: string | null;
  /** Subprotocols, in the endpoint's order of preference. */
  protocols: string[];
  requireProtocol?: boolean;
  maxPayload?: number;
  /** A WebSocket admitted under the limits, after the upgrade. */
  connection(ws: WebSocket, accepted: AcceptedConnection): ServedConnection;
}

/** What an adapter asks of the listener service: its handlers for accepted transports and their options. */
export interface ListenerSpec {
  /** A TCP or TLS socket admitted under the limits (TLS: once its handshake is done). */
  socket?(socket: Socket, accepted: AcceptedConnection): ServedConnection;
  websocket?: WebSocketEndpointSpec;
  /**
   * Keep our side open after the client's FIN, so what it sent is answered (TLS sockets: set once
   * the handshake is done, so an abandoned handshake still closes).
   */
  halfOpen?: boolean;
  /** Options over the listener's TLS options for the TLS listener (XMPP: requestCert). */
  tls?: TlsOptions;
  /** Time a TLS client has for its handshake (default 10 s). */
  tlsHandshakeTimeoutMs?: number;
  /** TCP and TLS: no byte either way for this long calls the connection's idle() (0 or absent = none). */
  idleTimeoutMs?: number;
}

export interface ListenerService {
  /**
   * Opens `<protocol>` on the adapter's port, `<protocol>-tls` on its TLS port when a certificate
   * is configured, and mounts `<protocol>-ws` on the HTTP listener; returns what is listening.
   */
  open(spec: ListenerSpec): Promise<ListenerInfo[]>;
  /** Transports admitted and not closed yet, across the adapter's listeners (what the limit counts). */
  readonly count: number;
  /**
   * Stops accepting, asks every connection to shut down, and resolves when every transport has
   * closed (after `graceMs`, default 2 s, the rest are destroyed).
   */
  close(graceMs?: number): Promise<void>;
}

export interface ListenerInfo {
  /** `<protocol>`, `<protocol>-tls`, `<protocol>-ws`, or `http`. */
  name: string;
  protocol: string;
  host: string;
  port: number;
  tls: boolean;
  /** A WebSocket endpoint's path on the HTTP listener. */
  path?: string;
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
