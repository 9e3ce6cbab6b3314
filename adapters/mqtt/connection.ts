/**
 * One network connection (TCP, TLS or a WebSocket stream): framing and parsing, the order in which
 * packets are handled, keep-alive, writing (one corked write per tick, back-pressure to the
 * session's consumers), acknowledgements in the order the PUBLISHes arrived, and the end of the
 * connection (will, session detach or end). Packet handlers live in handlers/.
 *
 * Packets read are never discarded by the peer going away: after a half-close (FIN) the packets
 * read so far are handled in order and their acknowledgements sent, then our side ends; after a
 * close or reset they are still handled (stored), with nothing left to answer, and only then is
 * the session detached (so a DISCONNECT among them still discards the will). Only DISCONNECT and
 * protocol errors drop what follows them.
 */
import type { Duplex } from 'node:stream';
import type { AcceptedConnection, Principal } from '../../core/adapter.js';
import type { ByteCounters, ClientConnection } from '../../core/connection-registry.js';
import type { Message } from '../../core/message.js';
import {
  createParser, encodePublish, encodePublishProps, Framer, frameProblem, generate, MAX_REMAINING_LENGTH, parseAckFast, parseEmptyFast, parsePublishFast, publishSize,
  type EncodedPublish, type FrameError, type Packet, type PacketFlags, type PacketParser,
} from './codec.js';
import type { MqttContext } from './context.js';
import type { EnhancedAuth } from './handlers/auth.js';
import { dispatchPacket } from './handlers/index.js';
import { messageToProps } from './mqtt-message.js';
import { RC } from './reason-codes.js';
import type { Session, SessionLink } from './session.js';
import type { SessionHolder } from './sessions.js';
import { coreTopicToMqtt, mqttTopicToCore } from './topics.js';
import { publishWill, type WillPacket } from './will.js';

export type Transport = 'tcp' | 'tls' | 'ws';
type State = 'new' | 'connecting' | 'connected' | 'closing' | 'closed';

let nextConnectionId = 1;

/** The last message encoded, by variant: a fan-out encodes each message once per variant. */
let lastMessage: Message | null = null;
const lastEncoded: Array<EncodedPublish | undefined> = new Array(8);

interface AckSlot {
  buf: Buffer | null;
}
const SKIP = Buffer.alloc(0);
const MAX_BACKLOG = 256;

/** Topics whose publish authorisation a connection remembers. */
const AUTH_CACHE_SIZE = 16;

export class MqttConnection implements SessionLink, SessionHolder {
  readonly id: string;
  state: State = 'new';
  version = 4;
  clientId = '';
  principal: Principal | null = null;
  /** The Authentication Method of CONNECT (MQTT 5 enhanced authentication), for re-authentication. */
  authMethod: string | null = null;
  /** An enhanced-authentication exchange in progress (handlers/auth.ts). */
  enhancedAuth: EnhancedAuth | null = null;
  session: Session | null = null;
  will: WillPacket | null = null;
  willDelay = 0;
  /** DISCONNECT with reason 0 received: the will is discarded. */
  graceful = false;
  /** Adapter stop: no will. */
  suppressWill = false;
  /** The session moved to another node of a cluster: its record is not written from here again. */
  private movedAway = false;
  socketBlocked = false;
  clientMaxPacketSize = MAX_REMAINING_LENGTH + 5;
  clientTopicAliasMax = 0;
  /** MQTT 5 Request Problem Information: reason strings allowed on acknowledgements. */
  problemInfo = true;
  /** MQTT 5 topic aliases the client set (made on first use). */
  inboundAliases: Map<number, string> | null = null;
  private outboundAliases: Map<string, number> | null = null;
  /** QoS 1 PUBLISHes not acknowledged yet (receive maximum accounting). */
  inboundQos1 = 0;
  pendingPublishes = 0;
  private readonly framer: Framer;
  /** mqtt-packet's parser, made when a packet needs it (CONNECT, SUBSCRIBE...): idle connections hold none. */
  private parser: PacketParser | null = null;
  private backlog: Packet[] = [];
  private busy = false;
  private readPaused = false;
  private acks: AckSlot[] = [];
  private ackHead = 0;
  private lastActivity = Date.now();
  private keepAliveMs = 0;
  private keepAliveTimer?: NodeJS.Timeout;
  private connectTimer?: NodeJS.Timeout;
  private closeTimer?: NodeJS.Timeout;
  private corked = false;
  private tornDown: Promise<void> | null = null;
  /** Publish authorisations by MQTT topic, at most AUTH_CACHE_SIZE. */
  private authCache: Map<string, boolean> | null = null;
  private failed = false;
  /** The peer sent FIN (or is gone): no more input will arrive. */
  private inputEnded = false;
  /** The stream closed: nothing more can be written; packets already read are still handled. */
  private transportGone = false;
  readonly closed: Promise<void>;
  private resolveClosed!: () => void;
  readonly transport: Transport;
  /** `address:port` of the client. */
  readonly remote: string;
  /** This connection in the broker's registry: counters are plain fields on it. */
  readonly client: ClientConnection;
  /** Why the connection ends (the first reason given), for the log. */
  private closeReason: string | null = null;

  constructor(
    readonly ctx: MqttContext,
    readonly stream: Duplex,
    accepted: AcceptedConnection,
    counters?: ByteCounters,
  ) {
    this.transport = accepted.kind;
    this.remote = accepted.remote;
    this.id = `${nextConnectionId++}`;
    this.closed = new Promise((r) => (this.resolveClosed = r));
    this.framer = new Framer(
      () => (this.state === 'new' ? ctx.settings.maxConnectPacketSize : ctx.settings.maxPacketSize),
      (chunk, start, body, end) => this.onFrame(chunk, start, body, end),
      (err) => this.frameError(err),
    );
    ctx.stats.connections++;
    this.client = ctx.clients.open({ listener: accepted.listener, remote: this.remote, transport: counters, close: (reason) => this.kick(reason) });
    stream.on('data', (chunk: Buffer) => this.onData(chunk));
    stream.on('error', (err: Error) => this.onError(err));
    stream.on('end', () => this.peerEnded());
    stream.on('close', () => this.streamClosed());
    this.connectTimer = setTimeout(() => {
      if (this.state === 'new' || this.enhancedAuth) this.fail(RC.ProtocolError, 'no CONNECT in time');
    }, ctx.settings.connectTimeoutMs);
    this.connectTimer.unref();
  }

  get v5(): boolean {
    return this.version === 5;
  }

  // ---- reading --------------------------------------------------------------------------------

  private onData(chunk: Buffer): void {
    if (this.state === 'closing' || this.state === 'closed') return;
    this.lastActivity = Date.now();
    if (this.state === 'new' && this.framer.buffered === 0 && chunk.length > 0 && chunk[0] !== 0x10) {
      // Not MQTT at all (an HTTP request, TLS on the plain port...): no need to wait for a length.
      this.fail(RC.ProtocolError, `first packet is not CONNECT (byte 0x${chunk[0].toString(16)})`);
      return;
    }
    this.framer.push(chunk);
  }

  /** One whole packet from the framer: PUBLISH and the 2-byte acknowledgements take a fast path. */
  private onFrame(chunk: Buffer, start: number, body: number, end: number): void {
    const problem = frameProblem(chunk, start, body, end, this.version);
    if (problem !== null) {
      this.malformed(problem);
      return;
    }
    if (this.state === 'connected') {
      const type = chunk[start] >> 4;
      let p: Packet | null | 'malformed' = null;
      if (type === 3) p = parsePublishFast(chunk, start, body, end, this.version === 5);
      else if (type >= 4 && type <= 7) p = parseAckFast(chunk, start, body, end);
      else if (type === 12 || type === 14) p = parseEmptyFast(chunk, start, body, end);
      if (p === 'malformed') {
        this.malformed('malformed PUBLISH');
        return;
      }
      if (p !== null) {
        this.onPacket(p);
        return;
      }
    }
    const parser = (this.parser ??= createParser((p) => this.onPacket(p), (err) => this.malformed(err.message), this.state === 'new' ? undefined : this.version));
    try {
      parser.parse(start === 0 && end === chunk.length ? chunk : chunk.subarray(start, end));
    } catch (err) {
      // Handlers run in handle() with their own catch: what arrives here is the parser failing on bad input.
      this.malformed(err instanceof Error ? err.message : String(err));
    }
    // Kept only for PUBLISHes with properties (likely to repeat); after CONNECT (which the parser
    // keeps as its settings), SUBSCRIBE and the like it goes, so idle connections hold none.
    if ((chunk[start] >> 4) !== 3) this.parser = null;
  }

  private onPacket(p: Packet & PacketFlags): void {
    if (this.state === 'closing' || this.state === 'closed') return;
    if (this.busy) {
      this.backlog.push(p);
      if (this.backlog.length >= MAX_BACKLOG) this.updateRead();
      return;
    }
    this.handle(p);
  }

  private handle(p: Packet & PacketFlags): void {
    let r: void | Promise<void>;
    try {
      r = dispatchPacket(this, p);
    } catch (err) {
      this.internalError(err);
      return;
    }
    if (r) {
      this.busy = true;
      r.then(() => this.afterBusy(), (err: unknown) => {
        this.busy = false;
        this.internalError(err);
      });
    }
  }

  private afterBusy(): void {
    this.busy = false;
    let i = 0;
    while (i < this.backlog.length && !this.busy && (this.state === 'connected' || this.state === 'connecting')) this.handle(this.backlog[i++]);
    this.backlog = i >= this.backlog.length ? [] : this.backlog.slice(i);
    this.updateRead();
    this.finishIfDone();
  }

  /** FIN from the peer (the stream allows half-open): handle what was read, answer it, then end our side. */
  private peerEnded(): void {
    this.inputEnded = true;
    this.finishIfDone();
  }

  /** The stream closed (our end, the peer's close, or a reset). */
  private streamClosed(): void {
    if (this.state === 'closed') return;
    this.transportGone = true;
    this.inputEnded = true;
    // Nothing can be delivered any more: the session's consumers stop (messages stay queued).
    this.socketBlocked = true;
    this.session?.updateFlow();
    this.finishIfDone();
  }

  /**
   * Once input has ended and every packet read has been handled: release everything when the
   * stream is gone, else end our side after the acknowledgements still being stored went out.
   */
  private finishIfDone(): void {
    if (!this.inputEnded || this.state === 'closed') return;
    if (this.state !== 'closing' && (this.busy || this.backlog.length > 0)) return;
    if (this.transportGone) {
      this.onClose();
      return;
    }
    if (this.state === 'closing') return;
    if (this.pendingPublishes > 0 || this.ackHead < this.acks.length) return;
    this.end();
  }

  publishStarted(): void {
    if (++this.pendingPublishes >= this.ctx.settings.maxPendingPublishes) this.updateRead();
  }

  publishSettled(): void {
    this.pendingPublishes--;
    if (this.readPaused) this.updateRead();
    // QoS 0 publishes have no acknowledgement to wait for: the last one may be what ends input.
    if (this.inputEnded && this.pendingPublishes === 0) queueMicrotask(() => this.finishIfDone());
  }

  private settleFns: [() => void, (err: unknown) => void] | null = null;

  /** Settles a QoS 0 publish: made once per connection, not once per message. */
  qos0Settle(): [() => void, (err: unknown) => void] {
    return (this.settleFns ??= [
      () => this.publishSettled(),
      (err: unknown) => {
        this.publishSettled();
        this.ctx.log.debug({ err, clientId: this.clientId }, 'mqtt: QoS 0 publish failed');
      },
    ]);
  }

  /** Pauses reading while too many publishes await the store or packets wait behind a slow one. */
  updateRead(): void {
    const pause = this.pendingPublishes >= this.ctx.settings.maxPendingPublishes || this.backlog.length >= MAX_BACKLOG;
    if (pause === this.readPaused || this.state === 'closed') return;
    this.readPaused = pause;
    if (pause) this.stream.pause();
    else this.stream.resume();
  }

  // ---- writing --------------------------------------------------------------------------------

  write(buf: Buffer): void {
    const s = this.stream;
    if (this.state === 'closed' || this.transportGone || !s.writable) return;
    if (!this.corked) {
      this.corked = true;
      s.cork();
      setImmediate(uncork, this);
    }
    if (!s.write(buf) && !this.socketBlocked) {
      this.socketBlocked = true;
      s.once('drain', () => {
        this.socketBlocked = false;
        this.session?.updateFlow();
      });
      this.session?.updateFlow();
    }
  }

  /** @internal */
  uncork(): void {
    this.corked = false;
    this.stream.uncork();
  }

  sendPacket(packet: Packet): void {
    let buf: Buffer;
    try {
      buf = generate(packet, this.version);
    } catch (err) {
      this.ctx.log.error({ err, conn: this.id, cmd: packet.cmd }, 'mqtt: could not encode a packet');
      return;
    }
    this.write(buf);
  }

  /** Sends a core message as a PUBLISH. False when it was discarded (larger than the client accepts). */
  sendMessage(m: Message, qos: number, retain: boolean, dup: boolean, packetId: number, subIds: number[] | undefined): boolean {
    try {
      return this.encodeAndSend(m, qos, retain, dup, packetId, subIds);
    } catch (err) {
      // Never throw into the core's dispatch loop (a message from another protocol MQTT cannot carry).
      this.ctx.warnLimited({ conn: this.id, clientId: this.clientId, topic: m.topic, err: (err as Error).message }, 'mqtt: message could not be encoded, discarded');
      return false;
    }
  }

  private encodeAndSend(m: Message, qos: number, retain: boolean, dup: boolean, packetId: number, subIds: number[] | undefined): boolean {
    const v5 = this.version === 5;
    const cacheable = subIds === undefined && !dup && this.outboundAliases === null && (!v5 || m.expiry === undefined);
    if (cacheable) {
      if (lastMessage !== m) {
        lastMessage = m;
        lastEncoded.fill(undefined);
      }
      const slot = (v5 ? 4 : 0) | (qos > 0 ? 2 : 0) | (retain ? 1 : 0);
      let enc = lastEncoded[slot];
      if (!enc) {
        const props = v5 ? encodePublishProps(messageToProps(m, Date.now())) : null;
        enc = encodePublish(Buffer.from(outboundTopic(m.topic)), m.payload, qos, retain, false, 0, props);
        lastEncoded[slot] = enc;
      }
      if (enc.buf.length > this.clientMaxPacketSize) return this.tooLarge(m);
      if (qos === 0) {
        this.write(enc.buf);
      } else {
        const copy = Buffer.allocUnsafe(enc.buf.length);
        enc.buf.copy(copy);
        copy.writeUInt16BE(packetId, enc.idOffset);
        this.write(copy);
      }
      this.ctx.stats.publishesSent++;
      this.client.messagesOut++;
      return true;
    }
    const topic = outboundTopic(m.topic);
    let topicBuf = Buffer.from(topic);
    let propsBuf: Buffer | null = null;
    let newAlias = false;
    if (v5) {
      const props = messageToProps(m, Date.now()) ?? {};
      if (subIds) props.subscriptionIdentifiers = subIds;
      if (this.outboundAliases) {
        const alias = this.outboundAliases.get(topic);
        if (alias !== undefined) {
          props.topicAlias = alias;
          topicBuf = EMPTY_TOPIC;
        } else if (this.outboundAliases.size < this.outboundAliasMax()) {
          props.topicAlias = this.outboundAliases.size + 1;
          this.outboundAliases.set(topic, props.topicAlias);
          newAlias = true;
        }
      }
      propsBuf = encodePublishProps(props);
    }
    if (publishSize(topicBuf.length, m.payload.length, qos, propsBuf ? propsBuf.length : 0) > this.clientMaxPacketSize) {
      if (newAlias) this.outboundAliases!.delete(topic);
      return this.tooLarge(m);
    }
    this.write(encodePublish(topicBuf, m.payload, qos, retain, dup, packetId, propsBuf).buf);
    this.ctx.stats.publishesSent++;
    this.client.messagesOut++;
    return true;
  }

  private outboundAliasMax(): number {
    return Math.min(this.clientTopicAliasMax, this.ctx.settings.outboundTopicAliases);
  }

  /** Called once the client's Topic Alias Maximum is known. */
  enableOutboundAliases(): void {
    this.outboundAliases = this.v5 && this.outboundAliasMax() > 0 ? new Map() : null;
  }

  private tooLarge(m: Message): boolean {
    this.ctx.stats.droppedTooLarge++;
    this.ctx.warnLimited({ conn: this.id, clientId: this.clientId, topic: m.topic, max: this.clientMaxPacketSize }, 'mqtt: message larger than the client\'s maximum packet size discarded');
    return false;
  }

  // ---- ordered acknowledgements ---------------------------------------------------------------

  /** Reserves the next place in the acknowledgement order. */
  ackSlot(): AckSlot {
    const slot: AckSlot = { buf: null };
    this.acks.push(slot);
    return slot;
  }

  /** Fills a slot (SKIP = nothing to send) and writes every acknowledgement now due. */
  fillAck(slot: AckSlot, buf: Buffer | null): void {
    slot.buf = buf ?? SKIP;
    const acks = this.acks;
    while (this.ackHead < acks.length && acks[this.ackHead].buf !== null) {
      const b = acks[this.ackHead++].buf!;
      if (b !== SKIP) this.write(b);
    }
    if (this.ackHead === acks.length) {
      this.acks = [];
      this.ackHead = 0;
    } else if (this.ackHead > 1024) {
      this.acks = acks.slice(this.ackHead);
      this.ackHead = 0;
    }
    if (this.inputEnded) this.finishIfDone();
  }

  // ---- authorisation --------------------------------------------------------------------------

  /** Publish authorisation for a core topic, cached per connection. */
  mayPublish(topic: string): boolean {
    if (topic === this.lastAuthTopic) return this.lastAuthResult;
    const ok = this.authorisePublish(topic);
    this.lastAuthTopic = topic;
    this.lastAuthResult = ok;
    return ok;
  }

  private lastAuthTopic: string | null = null;
  private lastAuthResult = false;
  private lastInTopic: string | null = null;
  private lastInCore = '';

  /** MQTT topic -> core name, remembering the last one (a device usually publishes to one topic). */
  coreTopic(topic: string): string {
    if (topic !== this.lastInTopic) {
      this.lastInTopic = topic;
      this.lastInCore = mqttTopicToCore(topic);
    }
    return this.lastInCore;
  }

  private authorisePublish(topic: string): boolean {
    let cache = this.authCache;
    const hit = cache?.get(topic);
    if (hit !== undefined) return hit;
    const ok = this.ctx.auth.authorise(this.principal!, 'publish', topic);
    if (!cache) this.authCache = cache = new Map();
    // Small: a device publishes to a few topics, and 10,000 connections each holding a large
    // cache grew the broker by megabytes a minute in the soak.
    if (cache.size >= AUTH_CACHE_SIZE) cache.clear();
    cache.set(topic, ok);
    return ok;
  }

  // ---- keep-alive -----------------------------------------------------------------------------

  startKeepAlive(seconds: number): void {
    clearTimeout(this.connectTimer);
    this.connectTimer = undefined;
    if (seconds <= 0) return;
    this.keepAliveMs = seconds * 1500;
    this.armKeepAlive(this.keepAliveMs);
  }

  private armKeepAlive(ms: number): void {
    this.keepAliveTimer = setTimeout(() => this.checkKeepAlive(), ms);
    this.keepAliveTimer.unref();
  }

  private checkKeepAlive(): void {
    if (this.state !== 'connected') return;
    // A peer that has ended its input cannot be late: what it sent is being handled.
    if (this.inputEnded) return;
    const idle = Date.now() - this.lastActivity;
    if (idle >= this.keepAliveMs) {
      this.fail(RC.KeepAliveTimeout, 'keep alive timeout', 'debug');
      return;
    }
    this.armKeepAlive(this.keepAliveMs - idle);
  }

  // ---- errors and closing ---------------------------------------------------------------------

  private frameError(err: FrameError): void {
    if (err.kind === 'oversize') this.fail(RC.PacketTooLarge, `packet of ${err.size} bytes is larger than the limit`);
    else this.malformed(err.reason);
  }

  malformed(reason: string): void {
    if (this.state === 'new' && /protocol version/i.test(reason)) {
      // MQTT 3.1.1 [MQTT-3.1.2-2]: CONNACK 0x01 (unacceptable protocol level), then close.
      this.stream.write(Buffer.from([0x20, 0x02, 0x00, 0x01]));
    }
    this.fail(RC.MalformedPacket, `malformed packet: ${reason}`);
  }

  /**
   * Ends the connection for a protocol violation or bad input: MQTT 5 clients get a DISCONNECT
   * with the reason code, every case is logged once (rate-limited across connections).
   */
  fail(reasonCode: number, reason: string, level: 'warn' | 'debug' = 'warn'): void {
    if (this.failed || this.state === 'closed') return;
    this.failed = true;
    this.closeReason ??= reason;
    this.framer.stopped = true;
    if (level === 'warn') {
      this.ctx.stats.protocolErrors++;
      this.ctx.clients.protocolErrors++;
      this.ctx.warnLimited({ conn: this.id, remote: this.remote, clientId: this.clientId || undefined, reasonCode, reason }, 'mqtt: closing connection');
    } else {
      this.ctx.log.debug({ conn: this.id, clientId: this.clientId || undefined, reason }, 'mqtt: closing connection');
    }
    if (this.v5 && this.state === 'connected') {
      this.sendPacket({ cmd: 'disconnect', reasonCode, properties: this.problemInfo ? { reasonString: reason } : undefined } as Packet);
    }
    this.end();
  }

  /** Half-closes after pending writes; destroys if the peer does not close. */
  end(): void {
    if (this.state === 'closing' || this.state === 'closed') return;
    this.state = 'closing';
    clearTimeout(this.keepAliveTimer);
    clearTimeout(this.connectTimer);
    if (this.transportGone) {
      this.onClose();
      return;
    }
    this.stream.end();
    this.closeTimer = setTimeout(() => this.stream.destroy(), 2000);
    this.closeTimer.unref();
  }

  internalError(err: unknown): void {
    this.ctx.log.error({ err, conn: this.id, clientId: this.clientId }, 'mqtt: internal error, closing connection');
    this.fail(RC.UnspecifiedError, 'internal error', 'debug');
  }

  private onError(err: Error & { code?: string }): void {
    this.ctx.log.debug({ conn: this.id, code: err.code, msg: err.message }, 'mqtt: socket error');
  }

  sessionCancelled(): void {
    this.fail(RC.AdministrativeAction, 'session queue deleted');
  }

  private onClose(): void {
    if (this.state === 'closed') return;
    this.state = 'closed';
    this.ctx.stats.connections--;
    this.client.closed(this.closeReason ?? (this.graceful ? 'client disconnected' : 'connection lost'));
    clearTimeout(this.keepAliveTimer);
    clearTimeout(this.connectTimer);
    clearTimeout(this.closeTimer);
    this.backlog = [];
    if (!this.clientId) {
      this.resolveClosed();
      return;
    }
    this.ctx.sessions.withLock(this.clientId, () => this.teardown())
      .catch((err: unknown) => this.ctx.log.error({ err, clientId: this.clientId }, 'mqtt: session teardown failed'))
      .finally(() => this.resolveClosed());
  }

  /** Detaches the session: a will is published or scheduled, the session ends or starts its expiry. Idempotent. */
  teardown(): Promise<void> {
    return (this.tornDown ??= this.doTeardown());
  }

  private async doTeardown(): Promise<void> {
    const session = this.session;
    if (!session) return;
    const { sessions, store } = this.ctx;
    const clientId = this.clientId;
    if (sessions.connections.get(clientId) === this) sessions.connections.delete(clientId);
    session.detach();
    const ends = session.expiry === 0;
    const will = this.graceful || this.suppressWill ? null : this.will;
    // Discarded (the broker stopping; DISCONNECT deleted it already): its cluster record goes, unless another node has the client now.
    if (this.will && !will && !this.movedAway) void sessions.clusterWills?.discard(clientId).catch(() => undefined);
    if (will) {
      const principal = this.principal!;
      sessions.scheduleWill(clientId, ends ? 0 : Math.min(this.willDelay, session.expiry), () => publishWill(this.ctx, will, clientId, principal));
    }
    if (this.movedAway) {
      sessions.cancelWill(clientId);
    } else if (ends) {
      await sessions.endSession(clientId, session.sharedQueues());
    } else {
      const now = Date.now();
      await store.put(clientId, session.record(now));
      sessions.scheduleExpiry(clientId, session.expiry, now);
    }
  }

  /** Another connection took this client id. */
  async takeover(): Promise<void> {
    this.closeReason ??= 'session taken over by another connection';
    if (this.v5 && this.state === 'connected') this.sendPacket({ cmd: 'disconnect', reasonCode: RC.SessionTakenOver } as Packet);
    this.end();
    await this.teardown();
  }

  /**
   * A connection on another node of the cluster took this client id: the session is detached here
   * (a will without delay is still published), and the record, now that node's, is left alone.
   */
  takenOverElsewhere(): Promise<void> {
    this.movedAway = true;
    return this.takeover();
  }

  /** An administrator closes the connection: MQTT 5 clients get DISCONNECT 0x98 (administrative action); the will is published. */
  kick(reason: string): void {
    if (this.state === 'closing' || this.state === 'closed') return;
    this.closeReason ??= reason;
    if (this.v5 && this.state === 'connected') {
      this.sendPacket({ cmd: 'disconnect', reasonCode: RC.AdministrativeAction, properties: this.problemInfo ? { reasonString: reason } : undefined } as Packet);
    }
    this.end();
  }

  /** Adapter stop: MQTT 5 clients hear why; no will; the session stays (or ends if clean). */
  async shutdown(): Promise<void> {
    this.suppressWill = true;
    this.closeReason ??= 'broker stopping';
    if (this.v5 && this.state === 'connected') this.sendPacket({ cmd: 'disconnect', reasonCode: RC.ServerShuttingDown } as Packet);
    this.end();
    const t = setTimeout(() => this.stream.destroy(), 500);
    await this.closed;
    clearTimeout(t);
  }
}

const EMPTY_TOPIC = Buffer.alloc(0);

let lastOutCore: string | null = null;
let lastOutTopic = '';

/** Core name -> MQTT topic, remembering the last one. */
function outboundTopic(core: string): string {
  if (core !== lastOutCore) {
    lastOutCore = core;
    lastOutTopic = coreTopicToMqtt(core);
  }
  return lastOutTopic;
}

function uncork(c: MqttConnection): void {
  c.uncork();
}
