/**
 * One client connection, one request in flight as in Kafka: a frame is parsed only once the
 * response to the previous one has been written and the socket's write buffer is below
 * WRITE_BOUND (else after 'drain'). While a request is in flight the socket is read only until
 * the next frame (or READ_AHEAD bytes) is buffered, so a client that pipelines without reading
 * costs at most one request, READ_AHEAD bytes and one response (see docs/kafka.md).
 * Requests before SASL authentication (when it is required) are limited to a small size; idle,
 * half-open and stalled connections are closed (socket timeout, ConnectionWatchdog).
 */
import type { Socket } from 'node:net';
import type { AcceptedConnection } from '../../core/adapter.js';
import type { ClientConnection } from '../../core/connection-registry.js';
import { ConnectionWatchdog, type WatchedConnection } from './connection-watchdog.js';
import type { ConnectionState, KafkaServices, RequestContext } from './context.js';
import { FrameReader, FrameTooLargeError } from './frame-reader.js';
import { HANDLERS } from './handlers/index.js';
import { ApiKey, APIS, apiByKey, hasFlexibleResponseHeader, isFlexibleRequest } from './protocol/apis.js';
import { ErrorCode } from './protocol/errors.js';
import { codecFor, Struct } from './protocol/schema.js';
import { KafkaReader, KafkaWriter, ProtocolError } from './protocol/wire.js';
import { ApiVersionsResponse } from './protocol/messages/api-versions.js';
import { handleRawSaslToken } from './handlers/sasl.js';

/** Write-buffer size at or above which the next request waits for 'drain'. */
const WRITE_BOUND = 1024 * 1024;
/** Bytes read ahead of the request in flight before the socket is paused. */
const READ_AHEAD = 256 * 1024;
/** Unacknowledged (acks=0) bytes waiting for storage above which no further request is parsed. */
const STORING_HIGH_WATER = 64 * 1024 * 1024;
/** Largest request accepted before SASL authentication where it is required (the SASL APIs are tiny). */
export const MAX_UNAUTHENTICATED_REQUEST_BYTES = 64 * 1024;

let nextId = 1;

export class KafkaConnection implements ConnectionState, WatchedConnection {
  readonly id: string;
  readonly clientHost: string;
  readonly advertised: { host: string; port: number };
  principal: ConnectionState['principal'] = null;
  sasl: ConnectionState['sasl'] = null;
  saslRawTokens = false;
  readonly closed: Promise<void>;
  private resolveClosed!: () => void;
  private readonly closeWaiters = new Set<() => void>();
  private closedFlag = false;
  private closing = false;
  private readonly frames = new FrameReader();
  private readonly watchdog: ConnectionWatchdog;
  private inFlight = false;
  private waitingForDrain = false;
  private pausedForStoring = false;
  private readPaused = false;
  private pumping = false;
  private sawRequest = false;
  private storingBytes = 0;
  readonly client: ClientConnection;
  private identified = false;
  private closeReason: string | null = null;

  constructor(private readonly socket: Socket, private readonly services: KafkaServices, listenerPort: number, accepted: AcceptedConnection) {
    this.id = `kafka-${nextId++}`;
    const tls = accepted.kind === 'tls';
    this.client = services.clients.open({
      listener: accepted.listener, remote: accepted.remote, transport: socket,
      close: (reason) => this.close(reason),
    });
    this.clientHost = `/${socket.remoteAddress ?? 'unknown'}`;
    const s = services.settings;
    const local = socket.localAddress ?? '127.0.0.1';
    this.advertised = {
      host: s.advertisedHost ?? (local.startsWith('::ffff:') ? local.slice(7) : local),
      port: (tls ? s.advertisedTlsPort : s.advertisedPort) ?? listenerPort,
    };
    this.closed = new Promise((resolve) => { this.resolveClosed = resolve; });
    this.watchdog = new ConnectionWatchdog(this, s.handshakeTimeoutMs);
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('drain', () => this.onDrain());
    socket.on('error', (err) => services.log.debug({ conn: this.id, err: err.message }, 'kafka connection error'));
    socket.on('close', () => this.onClose());
    this.watchdog.check();
  }

  get isClosed(): boolean {
    return this.closedFlag;
  }

  /**
   * Calls `wake` when the connection closes (at once if it has). Returns the way to cancel: a
   * parked Fetch waits on this instead of racing `closed`, which would add a reaction to that
   * promise at every wait for as long as the connection lives.
   */
  whenClosed(wake: () => void): () => void {
    if (this.closedFlag) {
      queueMicrotask(wake);
      return () => undefined;
    }
    this.closeWaiters.add(wake);
    return () => this.closeWaiters.delete(wake);
  }

  get handshakeDone(): boolean {
    return this.sawRequest && (!this.services.authRequired || this.principal !== null);
  }

  get awaitingRestOfRequest(): boolean {
    return !this.inFlight && !this.readPaused && this.frames.partial;
  }

  close(reason: string): void {
    if (this.closedFlag) return;
    this.closeReason ??= reason;
    this.services.log.debug({ conn: this.id, reason }, 'closing kafka connection');
    this.socket.destroy();
    this.onClose();
  }

  expire(why: string): void {
    this.services.log.debug({ conn: this.id, client: this.clientHost, why }, 'kafka connection timed out: closing it');
    this.close(why);
  }

  closeAfterResponses(reason: string): void {
    this.closing = true;
    this.closeReason ??= reason;
    this.services.log.debug({ conn: this.id, reason }, 'kafka connection will close');
    if (!this.inFlight && !this.closedFlag) this.socket.end();
  }

  /** Once any SASL exchange is done, the request's client.id and the user say who the client is. */
  private identify(clientId: string): void {
    this.identified = true;
    this.client.identify(clientId || null, this.principal && !this.principal.anonymous ? this.principal.user : null);
  }

  private onClose(): void {
    if (this.closedFlag) return;
    this.closedFlag = true;
    this.watchdog.stop();
    this.client.closed(this.closeReason ?? 'connection closed by the client');
    this.resolveClosed();
    for (const wake of this.closeWaiters) wake();
    this.closeWaiters.clear();
  }

  /** The broker is stopping (the listener service's drain). */
  shutdown(): void {
    this.close('broker stopping');
  }

  /** No bytes either way for kafka.idleTimeoutMs (Kafka connections.max.idle.ms, timed by the listener service); a parked Fetch is not idle. */
  idle(): void {
    if (this.inFlight || this.closedFlag) return;
    this.services.log.debug({ conn: this.id, client: this.clientHost, idleMs: this.services.settings.idleTimeoutMs }, 'idle kafka connection: closing it');
    this.close('idle');
  }

  private onData(chunk: Buffer): void {
    if (this.closing || this.closedFlag) return;
    this.watchdog.bytesArrived();
    this.frames.push(chunk);
    this.pump();
  }

  /** Parses and handles the next request if none is in flight and the client keeps up. */
  private pump(): void {
    if (this.pumping) return; // a handler answered synchronously: the loop below goes on
    this.pumping = true;
    try {
      while (!this.inFlight && !this.waitingForDrain && !this.pausedForStoring && !this.closing && !this.closedFlag) {
        let frame: Buffer | null;
        try {
          frame = this.frames.next(this.requestLimit());
        } catch (err) {
          this.refuseFrame(err as FrameTooLargeError);
          return;
        }
        if (frame === null) break;
        this.sawRequest = true;
        this.inFlight = true;
        try {
          this.onFrame(frame);
        } catch (err) {
          this.fail(err as Error); // a bug, never a crash of the broker
        }
      }
    } finally {
      this.pumping = false;
    }
    this.updateReading();
    this.watchdog.check();
  }

  private requestLimit(): number {
    const max = this.services.settings.maxRequestBytes;
    return this.services.authRequired && this.principal === null ? Math.min(max, MAX_UNAUTHENTICATED_REQUEST_BYTES) : max;
  }

  private refuseFrame(err: FrameTooLargeError): void {
    const beforeAuth = this.services.authRequired && this.principal === null;
    this.services.log.warn({ conn: this.id, client: this.clientHost, size: err.size, limit: err.limit },
      beforeAuth ? 'kafka request before SASL authentication is too large: closing the connection' : 'kafka request larger than kafka.maxRequestBytes: closing the connection');
    this.close('request too large');
  }

  /** Reads while idle; while busy only until the next request (or READ_AHEAD bytes) is buffered. */
  private updateReading(): void {
    if (this.closedFlag) return;
    const idle = !this.inFlight && !this.waitingForDrain && !this.pausedForStoring && !this.closing;
    const read = idle || (!this.frames.complete && this.frames.pending < READ_AHEAD);
    if (read && this.readPaused) {
      this.readPaused = false;
      this.socket.resume();
    } else if (!read && !this.readPaused) {
      this.readPaused = true;
      this.socket.pause();
    }
  }

  private onFrame(frame: Buffer): void {
    if (this.saslRawTokens && !looksLikeSaslAuthenticate(frame)) {
      this.saslRawTokens = false;
      handleRawSaslToken(this.services, this, frame)
        .then((reply) => this.respond(reply === null ? [] : [int32(reply.length), reply]))
        .catch((err: Error) => this.fail(err));
      return;
    }
    if (frame.length < 8) {
      this.services.clients.protocolErrors++;
      this.close('request shorter than its header');
      return;
    }
    const apiKey = frame.readInt16BE(0);
    const apiVersion = frame.readInt16BE(2);
    const correlationId = frame.readInt32BE(4);
    const api = apiByKey(apiKey);
    if (!api) {
      this.services.log.info({ conn: this.id, apiKey }, 'unknown Kafka API key: closing the connection');
      this.services.clients.protocolErrors++;
      this.close('unknown api key');
      return;
    }
    if (apiKey === ApiKey.ApiVersions && apiVersion > api.max) {
      // Kafka's answer to a newer ApiVersions: error 35 in the v0 layout, with our ranges.
      this.respond(this.encodeResponse(correlationId, false, codecFor(ApiVersionsResponse, 0), {
        errorCode: ErrorCode.UNSUPPORTED_VERSION,
        apiKeys: APIS.map((a) => ({ apiKey: a.key, minVersion: a.min, maxVersion: a.max })),
      }));
      return;
    }
    if (apiVersion < api.min || apiVersion > api.max) {
      this.services.log.info({ conn: this.id, api: api.name, apiVersion }, 'unsupported Kafka API version: closing the connection');
      this.services.clients.protocolErrors++;
      this.close('unsupported version');
      return;
    }
    if (this.services.authRequired && this.principal === null && apiKey !== ApiKey.ApiVersions
      && apiKey !== ApiKey.SaslHandshake && apiKey !== ApiKey.SaslAuthenticate) {
      this.services.log.info({ conn: this.id, api: api.name }, 'request before SASL authentication: closing the connection');
      this.close('not authenticated');
      return;
    }
    let request: Struct;
    let clientId: string;
    try {
      const r = new KafkaReader(frame, 8);
      clientId = r.string(false) ?? '';
      if (isFlexibleRequest(api, apiVersion)) r.taggedFields();
      request = codecFor(api.request, apiVersion).read(r);
    } catch (err) {
      this.services.log.info({ conn: this.id, api: api.name, apiVersion, err: (err as Error).message }, 'malformed Kafka request: closing the connection');
      this.services.clients.protocolErrors++;
      this.close('malformed request');
      return;
    }
    const ctx: RequestContext = { services: this.services, conn: this, apiKey, apiVersion, correlationId, clientId };
    const flexibleHeader = hasFlexibleResponseHeader(api, apiVersion);
    const codec = codecFor(api.response, apiVersion);
    const finish = (response: Struct | null): void => {
      if (!this.identified && this.handshakeDone) this.identify(clientId);
      try {
        this.respond(response === null ? [] : this.encodeResponse(correlationId, flexibleHeader, codec, response));
      } catch (err) {
        this.fail(err as Error, api.name);
      }
    };
    let result;
    try {
      result = HANDLERS[apiKey](ctx, request);
    } catch (err) {
      this.fail(err as Error, api.name);
      return;
    }
    if (result instanceof Promise) result.then(finish, (err: Error) => this.fail(err, api.name));
    else finish(result);
  }

  private encodeResponse(correlationId: number, flexibleHeader: boolean, codec: ReturnType<typeof codecFor>, body: Struct): Buffer[] {
    const w = new KafkaWriter(512);
    w.int32(0).int32(correlationId);
    if (flexibleHeader) w.uvarint(0);
    codec.write(w, body);
    const chunks = w.toChunks();
    chunks[0].writeInt32BE(w.length - 4, 0);
    return chunks;
  }

  /** Writes the response of the request in flight; the next request waits while the client lags. */
  private respond(chunks: Buffer[]): void {
    if (this.closedFlag) return;
    if (chunks.length > 0) {
      this.socket.cork();
      for (const c of chunks) this.socket.write(c);
      this.socket.uncork();
    }
    this.inFlight = false;
    if (this.closing) {
      this.socket.end();
      return;
    }
    if (this.socket.writableLength >= WRITE_BOUND) this.waitingForDrain = true;
    this.pump();
  }

  private onDrain(): void {
    if (!this.waitingForDrain || this.socket.writableLength >= WRITE_BOUND) return;
    this.waitingForDrain = false;
    this.pump();
  }

  holdWhileStoring(bytes: number, done: Promise<unknown>): void {
    this.storingBytes += bytes;
    if (this.storingBytes > STORING_HIGH_WATER) this.pausedForStoring = true;
    const release = () => {
      this.storingBytes -= bytes;
      if (this.pausedForStoring && this.storingBytes <= STORING_HIGH_WATER / 2) {
        this.pausedForStoring = false;
        this.pump();
      }
    };
    done.then(release, release);
  }

  private fail(err: Error, api?: string): void {
    if (this.closedFlag) return;
    if (err instanceof ProtocolError) this.services.log.info({ conn: this.id, api, err: err.message }, 'cannot encode Kafka response: closing the connection');
    else this.services.log.error({ conn: this.id, api, err: err.stack ?? err.message }, 'Kafka request failed: closing the connection');
    this.close('handler failure');
  }
}

function int32(n: number): Buffer {
  const b = Buffer.allocUnsafe(4);
  b.writeInt32BE(n, 0);
  return b;
}

/** After a handshake, a SaslAuthenticate request rather than a bare token (kafka-python sends those). */
function looksLikeSaslAuthenticate(frame: Buffer): boolean {
  if (frame.length < 8 || frame.readInt16BE(0) !== ApiKey.SaslAuthenticate) return false;
  const api = apiByKey(ApiKey.SaslAuthenticate)!;
  const version = frame.readInt16BE(2);
  return version >= api.min && version <= api.max;
}
