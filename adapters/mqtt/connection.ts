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
import { isStoreRefusal } from '../../core/store-refusal-log.js';
import {
  createParser, Framer, frameProblem, generate, MAX_REMAINING_LENGTH, parseAckFast, parseEmptyFast, parsePublishFast,
  type FrameError, type Packet, type PacketFlags, type PacketParser,
} from './codec.js';
import { AckOrder, type AckSlot } from './ack-order.js';
import type { MqttContext } from './context.js';
import { KeepAlive } from './keep-alive.js';
import type { EnhancedAuth } from './handlers/auth.js';
import { dispatchPacket } from './handlers/index.js';
import { PublishEncoder } from './outbound-publish.js';
import type { ConnectionState, PacketContext } from './packet-context.js';
import { PublishTopics } from './publish-topics.js';
import { RC } from './reason-codes.js';
import type { Session } from './session.js';
import { detachSession } from './session-detach.js';
import type { WillPacket } from './will.js';

export type Transport = 'tcp' | 'tls' | 'ws';

let nextConnectionId = 1;

const MAX_BACKLOG = 256;


export class MqttConnection implements PacketContext {
  readonly id: string;
  state: ConnectionState = 'new';
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
  /** Outgoing PUBLISH encoding (topic aliases, the shared encoding of a fan-out). */
  private readonly publishes = new PublishEncoder();
  /** QoS 1 PUBLISHes not acknowledged yet (receive maximum accounting). */
  inboundQos1 = 0;
  pendingPublishes = 0;
  private readonly framer: Framer;
  /** mqtt-packet's parser, made when a packet needs it (CONNECT, SUBSCRIBE...): idle connections hold none. */
  private parser: PacketParser | null = null;
  private backlog: Packet[] = [];
  private busy = false;
  private readPaused = false;
  /** Made on first use (the first PUBLISH): idle connections hold none. */
  private acks: AckOrder | null = null;
  private topics: PublishTopics | null = null;
  /** A peer that has ended its input cannot be late: what it sent is being handled. */
  private readonly keepAlive = new KeepAlive(
    () => this.state === 'connected' && !this.inputEnded,
    () => this.fail(RC.KeepAliveTimeout, 'keep alive timeout', 'debug'),
  );
  private connectTimer?: NodeJS.Timeout;
  private closeTimer?: NodeJS.Timeout;
  private corked = false;
  private tornDown: Promise<void> | null = null;
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
    this.keepAlive.touch();
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
    if (this.pendingPublishes > 0 || this.acks?.pending) return;
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
        if (!isStoreRefusal(err)) this.ctx.log.debug({ err: (err as Error).message, clientId: this.clientId }, 'mqtt: QoS 0 publish failed');
        else this.ctx.storeError(err, { clientId: this.clientId }, '');
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
    const buf = this.publishes.encode(m, qos, retain, dup, packetId, subIds, this.version === 5, this.clientMaxPacketSize);
    if (!buf) return this.tooLarge(m);
    this.write(buf);
    this.ctx.stats.publishesSent++;
    this.client.messagesOut++;
    return true;
  }

  /** Called once the client's Topic Alias Maximum is known. */
  enableOutboundAliases(): void {
    this.publishes.enableAliases(this.v5 ? Math.min(this.clientTopicAliasMax, this.ctx.settings.outboundTopicAliases) : 0);
  }

  private tooLarge(m: Message): boolean {
    this.ctx.stats.droppedTooLarge++;
    this.ctx.warnLimited({ conn: this.id, clientId: this.clientId, topic: m.topic, max: this.clientMaxPacketSize }, 'mqtt: message larger than the client\'s maximum packet size discarded');
    return false;
  }

  // ---- ordered acknowledgements and publish topics (handlers/publish.ts) ---------------------

  /** Reserves the next place in the acknowledgement order. */
  ackSlot(): AckSlot {
    return (this.acks ??= new AckOrder((buf) => this.write(buf))).slot();
  }

  /** Fills a slot (null = nothing to send) and writes every acknowledgement now due. */
  fillAck(slot: AckSlot, buf: Buffer | null): void {
    this.acks!.fill(slot, buf);
    if (this.inputEnded) this.finishIfDone();
  }

  /** Publish authorisation for a core topic, cached per connection. */
  mayPublish(topic: string): boolean {
    return (this.topics ??= new PublishTopics(this.ctx.auth, () => this.principal)).mayPublish(topic);
  }

  /** MQTT topic -> core name, remembering the last one. */
  coreTopic(topic: string): string {
    return (this.topics ??= new PublishTopics(this.ctx.auth, () => this.principal)).coreTopic(topic);
  }

  // ---- keep-alive -----------------------------------------------------------------------------

  startKeepAlive(seconds: number): void {
    clearTimeout(this.connectTimer);
    this.connectTimer = undefined;
    this.keepAlive.start(seconds);
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
    this.keepAlive.stop();
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
    this.ctx.storeError(err, { conn: this.id, clientId: this.clientId }, 'mqtt: internal error, closing connection');
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
    this.keepAlive.stop();
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
    if (!this.session) return;
    await detachSession({
      ctx: this.ctx, clientId: this.clientId, session: this.session, holder: this, will: this.will,
      discardWill: this.graceful || this.suppressWill, willDelay: this.willDelay, principal: this.principal, movedAway: this.movedAway,
    });
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

function uncork(c: MqttConnection): void {
  c.uncork();
}
