/**
 * One client connection: frames in, requests decoded by the generic codec and dispatched to their
 * handler, responses written strictly in request order (a parked Fetch or a Produce waiting for
 * storage holds back the responses behind it, as clients match them FIFO). Requests are handled
 * as they arrive (pipelined); the socket is paused while too many wait for their turn or while
 * the client is not reading its responses.
 */
import type { Socket } from 'node:net';
import type { ConnectionState, KafkaServices, RequestContext } from './context.js';
import { FrameReader, FrameTooLargeError } from './frame-reader.js';
import { HANDLERS } from './handlers/index.js';
import { ApiKey, APIS, apiByKey, hasFlexibleResponseHeader, isFlexibleRequest } from './protocol/apis.js';
import { ErrorCode } from './protocol/errors.js';
import { codecFor, Struct } from './protocol/schema.js';
import { KafkaReader, KafkaWriter, ProtocolError } from './protocol/wire.js';
import { ApiVersionsResponse } from './protocol/messages/api-versions.js';
import type { SaslExchange } from './sasl.js';
import { handleRawSaslToken } from './handlers/sasl.js';

interface Slot {
  done: boolean;
  chunks: Buffer[] | null;
}

/** Write-buffer size above which the connection stops reading until the client catches up. */
const WRITE_HIGH_WATER = 8 * 1024 * 1024;
/** Unacknowledged (acks=0) bytes waiting for storage above which the connection stops reading. */
const STORING_HIGH_WATER = 64 * 1024 * 1024;

let nextId = 1;

export class KafkaConnection implements ConnectionState {
  readonly id: string;
  readonly clientHost: string;
  readonly advertised: { host: string; port: number };
  principal: ConnectionState['principal'] = null;
  sasl: SaslExchange | null = null;
  saslRawTokens = false;
  readonly closed: Promise<void>;
  private resolveClosed!: () => void;
  private closedFlag = false;
  private closing = false;
  private readonly frames: FrameReader;
  private readonly slots: Slot[] = [];
  private pausedForWrites = false;
  private pausedForInFlight = false;
  private pausedForStoring = false;
  private storingBytes = 0;

  constructor(private readonly socket: Socket, private readonly services: KafkaServices, listenerPort: number, tls: boolean) {
    this.id = `kafka-${nextId++}`;
    this.clientHost = `/${socket.remoteAddress ?? 'unknown'}`;
    const s = services.settings;
    const local = socket.localAddress ?? '127.0.0.1';
    this.advertised = {
      host: s.advertisedHost ?? (local.startsWith('::ffff:') ? local.slice(7) : local),
      port: (tls ? s.advertisedTlsPort : s.advertisedPort) ?? listenerPort,
    };
    this.frames = new FrameReader(s.maxRequestBytes);
    this.closed = new Promise((resolve) => { this.resolveClosed = resolve; });
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('drain', () => this.onDrain());
    socket.on('error', (err) => services.log.debug({ conn: this.id, err: err.message }, 'kafka connection error'));
    socket.on('close', () => this.onClose());
  }

  get isClosed(): boolean {
    return this.closedFlag;
  }

  close(reason: string): void {
    if (this.closedFlag) return;
    this.services.log.debug({ conn: this.id, reason }, 'closing kafka connection');
    this.socket.destroy();
    this.onClose();
  }

  closeAfterResponses(reason: string): void {
    this.closing = true;
    this.services.log.debug({ conn: this.id, reason }, 'kafka connection will close');
    this.flush();
  }

  private onClose(): void {
    if (this.closedFlag) return;
    this.closedFlag = true;
    this.slots.length = 0;
    this.resolveClosed();
  }

  private onData(chunk: Buffer): void {
    if (this.closing || this.closedFlag) return;
    let frames: Buffer[];
    try {
      frames = this.frames.push(chunk);
    } catch (err) {
      if (err instanceof FrameTooLargeError) this.services.log.warn({ conn: this.id, client: this.clientHost }, err.message);
      this.close('bad frame');
      return;
    }
    for (const frame of frames) {
      if (this.closing || this.closedFlag) return;
      try {
        this.onFrame(frame);
      } catch (err) {
        this.fail(err as Error); // a bug, never a crash of the broker
      }
    }
  }

  private onFrame(frame: Buffer): void {
    if (this.saslRawTokens && !looksLikeSaslAuthenticate(frame)) {
      this.saslRawTokens = false;
      const slot = this.newSlot();
      handleRawSaslToken(this.services, this, frame)
        .then((reply) => this.complete(slot, reply === null ? [] : [int32(reply.length), reply]))
        .catch((err: Error) => this.fail(err));
      return;
    }
    if (frame.length < 8) {
      this.close('request shorter than its header');
      return;
    }
    const apiKey = frame.readInt16BE(0);
    const apiVersion = frame.readInt16BE(2);
    const correlationId = frame.readInt32BE(4);
    const api = apiByKey(apiKey);
    if (!api) {
      this.services.log.info({ conn: this.id, apiKey }, 'unknown Kafka API key: closing the connection');
      this.close('unknown api key');
      return;
    }
    if (apiKey === ApiKey.ApiVersions && apiVersion > api.max) {
      // Kafka's answer to a newer ApiVersions: error 35 in the v0 layout, with our ranges.
      const slot = this.newSlot();
      this.complete(slot, this.encodeResponse(correlationId, false, codecFor(ApiVersionsResponse, 0), {
        errorCode: ErrorCode.UNSUPPORTED_VERSION,
        apiKeys: APIS.map((a) => ({ apiKey: a.key, minVersion: a.min, maxVersion: a.max })),
      }));
      return;
    }
    if (apiVersion < api.min || apiVersion > api.max) {
      this.services.log.info({ conn: this.id, api: api.name, apiVersion }, 'unsupported Kafka API version: closing the connection');
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
      this.close('malformed request');
      return;
    }
    const ctx: RequestContext = { services: this.services, conn: this, apiKey, apiVersion, correlationId, clientId };
    const slot = this.newSlot();
    const flexibleHeader = hasFlexibleResponseHeader(api, apiVersion);
    const codec = codecFor(api.response, apiVersion);
    const finish = (response: Struct | null): void => {
      try {
        this.complete(slot, response === null ? [] : this.encodeResponse(correlationId, flexibleHeader, codec, response));
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

  private newSlot(): Slot {
    const slot: Slot = { done: false, chunks: null };
    this.slots.push(slot);
    if (this.slots.length >= this.services.settings.maxInFlightRequests && !this.pausedForInFlight) {
      this.pausedForInFlight = true;
      this.socket.pause();
    }
    return slot;
  }

  private complete(slot: Slot, chunks: Buffer[]): void {
    if (this.closedFlag) return;
    slot.done = true;
    slot.chunks = chunks;
    this.flush();
  }

  private flush(): void {
    if (this.closedFlag) return;
    let wrote = false;
    while (this.slots.length > 0 && this.slots[0].done) {
      const slot = this.slots.shift()!;
      if (!wrote) this.socket.cork();
      wrote = true;
      for (const c of slot.chunks!) this.socket.write(c);
    }
    if (wrote) this.socket.uncork();
    if (this.closing && this.slots.length === 0) {
      this.socket.end();
      return;
    }
    if (this.pausedForInFlight && this.slots.length < this.services.settings.maxInFlightRequests / 2) {
      this.pausedForInFlight = false;
      this.maybeResume();
    }
    if (!this.pausedForWrites && this.socket.writableLength > WRITE_HIGH_WATER) {
      this.pausedForWrites = true;
      this.socket.pause();
    }
  }

  private onDrain(): void {
    if (!this.pausedForWrites) return;
    this.pausedForWrites = false;
    this.maybeResume();
  }

  holdWhileStoring(bytes: number, done: Promise<unknown>): void {
    this.storingBytes += bytes;
    if (!this.pausedForStoring && this.storingBytes > STORING_HIGH_WATER) {
      this.pausedForStoring = true;
      this.socket.pause();
    }
    const release = () => {
      this.storingBytes -= bytes;
      if (this.pausedForStoring && this.storingBytes <= STORING_HIGH_WATER / 2) {
        this.pausedForStoring = false;
        this.maybeResume();
      }
    };
    done.then(release, release);
  }

  private maybeResume(): void {
    if (!this.pausedForWrites && !this.pausedForInFlight && !this.pausedForStoring && !this.closedFlag) this.socket.resume();
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
