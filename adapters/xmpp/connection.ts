/**
 * One client connection, TCP (RFC 6120) or WebSocket (RFC 7395): stream negotiation (header,
 * features, STARTTLS, SASL, in-band registration, resource binding, legacy session, stream
 * management enable/resume), limits (stanza size and depth in the parser, inbound byte rate,
 * negotiation timeout, SASL failures), and stream errors. Once bound it hands stanzas to the Hub.
 *
 * Stanzas are processed in order. A handler may return a promise (an async step such as SASL or a
 * roster write); later stanzas wait in a short queue, and past QUEUE_PAUSE of them the socket
 * stops being read, so a client cannot make the server buffer without bound.
 *
 * Stanzas read are never discarded by the client going away: `</stream:stream>` takes its turn
 * behind the stanzas read before it; after a FIN (the listener allows half-open) the stanzas read
 * are handled, then we close the stream and our side; after a close or reset they are still
 * handled (messages delivered or stored offline), with nothing left to answer, and only then is the
 * session ended (or kept for resumption).
 */
import { randomBytes } from 'node:crypto';
import type { Socket } from 'node:net';
import { TLSSocket, type SecureContext } from 'node:tls';
import type { WebSocket } from 'ws';
import type { Logger, Principal, SaslExchange, SaslOutcome, SaslPeer, SaslService } from '../../core/adapter.js';
import { AccountExistsError, InvalidAccountError, type Accounts } from './accounts.js';
import type { XmppSettings } from './config.js';
import type { Hub } from './hub.js';
import type { ClientConnection, ProtocolConnections } from '../../core/connection-registry.js';
import { normaliseLocal } from './jid.js';
import { NS } from './ns.js';
import { StreamError, XmppStreamParser } from './parser.js';
import type { Session, SessionLink } from './session.js';
import { errorReply, iqResult, out, streamErrorXml } from './stanza.js';
import { checkClientCertificate } from './starttls.js';
import { escapeAttr, x, XElement } from './xml.js';

export interface ConnectionDeps {
  hub: Hub;
  settings: XmppSettings;
  accounts: Accounts;
  /** The platform's SASL mechanisms. */
  sasl: SaslService;
  log: Logger;
  /** Present when a certificate is configured: STARTTLS is offered. */
  secureContext: SecureContext | null;
  requestCert: boolean;
  rejectUnauthorized: boolean;
  onClose(conn: Connection): void;
  /** The broker's registry of client connections. */
  clients: ProtocolConnections;
}

const QUEUE_PAUSE = 128;
/** The client's `</stream:stream>`, queued behind the stanzas read before it. */
const STREAM_END = new XElement('stream-end', {}, 'urn:junction:internal');
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

let nextConn = 1;
/** Stream errors that mean the client sent something wrong (counted as protocol errors). */
const BAD_INPUT = new Set([
  'bad-format', 'invalid-namespace', 'invalid-xml', 'not-well-formed', 'restricted-xml', 'unsupported-encoding',
  'unsupported-stanza-type', 'unsupported-version', 'host-unknown', 'improper-addressing', 'undefined-condition', 'not-authorized',
]);

export class Connection implements SessionLink {
  readonly id = `x${nextConn++}`;
  private readonly parser: XmppStreamParser;
  private socket: Socket | null = null;
  private ws: WebSocket | null = null;
  private secure: boolean;
  private streamOpen = false;
  private closed = false;
  private clientClosed = false;
  /** The client sent FIN (or is gone): no more input will arrive. */
  private inputEnded = false;
  /** The transport closed: nothing more can be written; stanzas already read are still handled. */
  private transportGone = false;
  private principal: Principal | null = null;
  private local = '';
  session: Session | null = null;
  private sasl: SaslExchange | null = null;
  private authFailures = 0;
  private registered = false;
  private readonly queue: XElement[] = [];
  private busy = false;
  private drainScheduled = false;
  private readonly pauses = new Set<string>();
  private tokens: number;
  private lastRefill = Date.now();
  private rateTimer?: NodeJS.Timeout;
  private negotiationTimer?: NodeJS.Timeout;
  private idleTimer?: NodeJS.Timeout;
  private lastInput = Date.now();
  /** When an idle check sent a ping (or an XEP-0198 request) not answered by any input yet; 0 = none. */
  private idlePingAt = 0;
  private drainWaiters: Array<() => void> = [];
  private corked = false;
  private wsBytesPending = 0;
  /** This connection in the broker's registry: counters are plain fields on it. */
  readonly client: ClientConnection;
  private closeReason: string | null = null;

  /** The client's IP address (failed logins are limited per address). */
  private readonly remote: string | undefined;

  constructor(
    private readonly deps: ConnectionDeps,
    transport: { socket: Socket; secure: boolean } | { ws: WebSocket; secure: boolean; remote?: string; peer?: Socket },
  ) {
    const s = deps.settings;
    this.remote = 'ws' in transport ? transport.remote : transport.socket.remoteAddress;
    // The socket accepted (before any STARTTLS): its byte counts are the connection's.
    const peer = 'ws' in transport ? transport.peer : transport.socket;
    this.client = deps.clients.open({
      listener: 'ws' in transport ? 'xmpp-ws' : transport.secure ? 'xmpp-tls' : 'xmpp',
      remote: peer ? `${peer.remoteAddress}:${peer.remotePort}` : (this.remote ?? 'unknown'),
      transport: peer,
      close: (reason) => {
        // An administrator's close: a stream error the client shows, the reason as its text.
        this.closeReason ??= reason;
        this.streamError('policy-violation', reason);
      },
    });
    this.tokens = s.rateBurstBytes;
    this.secure = transport.secure;
    const mode = 'ws' in transport ? 'ws' : 'tcp';
    this.parser = new XmppStreamParser(mode, { maxStanzaChars: s.maxUnauthenticatedStanzaBytes, maxDepth: s.maxDepth }, {
      streamStart: (name, uri, attrs) => this.onStreamStart(name, uri, attrs),
      stanza: (el) => this.onStanza(el),
      streamEnd: () => { this.onStanza(STREAM_END); },
    });
    if ('ws' in transport) this.attachWs(transport.ws);
    else this.attachSocket(transport.socket);
    this.negotiationTimer = setTimeout(() => this.streamError('connection-timeout', 'negotiation took too long'), s.negotiationTimeoutMs);
    this.negotiationTimer.unref();
    if (s.idleTimeoutMs > 0) this.armIdle(s.idleTimeoutMs);
  }

  private get log(): Logger {
    return this.deps.log;
  }

  // ---- transport ------------------------------------------------------------------------------

  private readonly onData = (data: Buffer): void => {
    if (this.closed) return;
    this.lastInput = Date.now();
    const rate = this.deps.settings.rateBytesPerSecond;
    if (rate > 0) {
      const now = Date.now();
      this.tokens = Math.min(this.deps.settings.rateBurstBytes, this.tokens + ((now - this.lastRefill) * rate) / 1000);
      this.lastRefill = now;
      this.tokens -= data.length;
      if (this.tokens < 0 && !this.rateTimer) {
        this.pause('rate');
        this.rateTimer = setTimeout(() => { this.rateTimer = undefined; this.resume('rate'); }, Math.ceil((-this.tokens / rate) * 1000));
      }
    }
    try {
      if (!this.parser.writeBytes(data)) this.pause('halt');
    } catch (e) {
      this.fail(e);
    }
  };

  private readonly onSocketClose = (): void => this.transportClosed();
  private readonly onSocketEnd = (): void => {
    this.inputEnded = true;
    this.settleInput();
  };
  private readonly onSocketError = (e: Error): void => { this.log.debug({ conn: this.id, err: e.message }, 'xmpp: socket error'); };
  private readonly onSocketDrain = (): void => this.drained();

  private attachSocket(socket: Socket): void {
    this.socket = socket;
    socket.on('data', this.onData);
    socket.on('close', this.onSocketClose);
    socket.on('end', this.onSocketEnd);
    socket.on('error', this.onSocketError);
    socket.on('drain', this.onSocketDrain);
  }

  private detachSocket(socket: Socket): void {
    socket.off('data', this.onData);
    socket.off('close', this.onSocketClose);
    socket.off('end', this.onSocketEnd);
    socket.off('error', this.onSocketError);
    socket.off('drain', this.onSocketDrain);
  }

  private attachWs(ws: WebSocket): void {
    this.ws = ws;
    ws.on('message', (data: Buffer | ArrayBuffer | Buffer[], isBinary: boolean) => {
      if (this.closed) return;
      this.lastInput = Date.now();
      const buf = Buffer.isBuffer(data) ? data : Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data);
      if (isBinary) {
        this.fail(new StreamError('unsupported-encoding', 'XMPP over WebSocket uses text frames'));
        return;
      }
      try {
        this.parser.writeMessage(buf.toString('utf8'));
      } catch (e) {
        this.fail(e);
      }
    });
    ws.on('close', () => this.transportClosed());
    ws.on('error', (e) => this.log.debug({ conn: this.id, err: e.message }, 'xmpp: websocket error'));
  }

  // ---- idle timeout ---------------------------------------------------------------------------

  private armIdle(ms: number): void {
    this.idleTimer = setTimeout(() => this.checkIdle(), ms);
    this.idleTimer.unref();
  }

  /**
   * After `idleTimeoutMs` without input a bound client is pinged (XEP-0199; with stream
   * management an `<r/>`, which is not counted as a stanza); silent for another `idleTimeoutMs`,
   * the stream ends with connection-timeout. While reading is paused by the server the client
   * cannot be heard, so it is not idle.
   */
  private checkIdle(): void {
    if (this.closed) return;
    const limit = this.deps.settings.idleTimeoutMs;
    const now = Date.now();
    // A client that has ended its input cannot be idle: what it sent is being handled.
    if (this.inputEnded) {
      this.armIdle(limit);
      return;
    }
    if (this.pauses.size > 0) this.lastInput = now;
    if (this.lastInput >= this.idlePingAt) this.idlePingAt = 0;
    const idle = now - this.lastInput;
    if (idle < limit) {
      this.armIdle(limit - idle);
      return;
    }
    const s = this.session;
    if (s && this.idlePingAt === 0) {
      this.idlePingAt = now;
      this.write(s.smEnabled
        ? `<r xmlns='${NS.sm}'/>`
        : `<iq type='get' id='idle-${randomBytes(4).toString('hex')}' from='${escapeAttr(this.deps.settings.domain)}' to='${escapeAttr(s.full)}'><ping xmlns='${NS.ping}'/></iq>`);
      this.armIdle(limit);
      return;
    }
    this.log.debug({ conn: this.id, jid: s?.full, idleMs: idle }, 'xmpp: idle timeout');
    this.streamError('connection-timeout', 'idle timeout');
  }

  private pause(reason: string): void {
    if (this.pauses.size === 0) {
      if (this.socket) this.socket.pause();
      else this.ws?.pause();
    }
    this.pauses.add(reason);
  }

  private resume(reason: string): void {
    if (!this.pauses.delete(reason) || this.pauses.size > 0 || this.closed) return;
    if (this.socket) this.socket.resume();
    else this.ws?.resume();
  }

  write(data: string): void {
    if (this.closed || this.transportGone) return;
    if (this.ws) {
      this.wsBytesPending += data.length;
      this.ws.send(data, () => {
        this.wsBytesPending -= data.length;
        if (this.wsBytesPending <= this.deps.settings.sendHighWaterBytes / 2) this.drained();
      });
      return;
    }
    const sock = this.socket!;
    if (!this.corked) {
      this.corked = true;
      sock.cork();
      process.nextTick(() => { this.corked = false; sock.uncork(); });
    }
    sock.write(data);
  }

  get congested(): boolean {
    if (this.closed) return false;
    if (this.ws) return this.wsBytesPending > this.deps.settings.sendHighWaterBytes;
    return (this.socket?.writableLength ?? 0) > this.deps.settings.sendHighWaterBytes;
  }

  whenDrained(cb: () => void): void {
    if (!this.congested) {
      cb();
      return;
    }
    this.drainWaiters.push(cb);
  }

  private drained(): void {
    if (this.drainWaiters.length === 0 || this.congested) return;
    for (const w of this.drainWaiters.splice(0)) w();
  }

  private end(): void {
    if (this.ws) {
      try { this.ws.close(1000); } catch { /* already closing */ }
    } else {
      this.socket?.end();
      const s = this.socket;
      setTimeout(() => s?.destroy(), 2000).unref();
    }
  }

  private finish(): void {
    if (this.closed) return;
    this.closed = true;
    this.client.closed(this.closeReason ?? 'stream closed');
    clearTimeout(this.negotiationTimer);
    clearTimeout(this.rateTimer);
    clearTimeout(this.idleTimer);
    for (const w of this.drainWaiters.splice(0)) w();
    this.deps.onClose(this);
  }

  /** The transport closed (our end, the client's close, or a reset): handle what was read, then release. */
  private transportClosed(): void {
    if (this.closed) return;
    this.transportGone = true;
    this.inputEnded = true;
    this.settleInput();
  }

  /** Once input has ended and every stanza read has been handled: release, or close our side. */
  private settleInput(): void {
    if (this.closed || !this.inputEnded || this.busy || this.queue.length > 0) return;
    if (this.transportGone) {
      this.closedByPeer();
      return;
    }
    // FIN without </stream:stream>: the connection is lost as far as the session goes (a resumable
    // one waits for its client), but everything the client sent has been handled.
    const s = this.session;
    this.session = null;
    this.closeStream();
    if (s && s.link === this) this.deps.hub.linkLost(s);
  }

  private closedByPeer(): void {
    this.closeReason ??= this.clientClosed ? 'client closed the stream' : 'connection lost';
    const s = this.session;
    this.session = null;
    this.finish();
    if (s && s.link === this) {
      if (this.clientClosed) this.deps.hub.endSession(s, true);
      else this.deps.hub.linkLost(s);
    }
  }

  /** SessionLink: the session moved to another connection. */
  detach(): void {
    this.closeReason ??= 'session moved to another connection';
    this.session = null;
    this.closeStream();
  }

  private closeStream(): void {
    if (this.closed) return;
    if (this.streamOpen) this.write(this.ws ? `<close xmlns='${NS.framing}'/>` : '</stream:stream>');
    this.finish();
    this.end();
  }

  // ---- stream errors --------------------------------------------------------------------------

  private fail(e: unknown): void {
    if (e instanceof StreamError) this.streamError(e.condition, e.message !== e.condition ? e.message : undefined);
    else {
      this.log.error({ conn: this.id, err: e instanceof Error ? e.stack : String(e) }, 'xmpp: internal error');
      this.streamError('internal-server-error');
    }
  }

  streamError(condition: string, text?: string): void {
    if (this.closed) return;
    this.closeReason ??= text ? `${condition}: ${text}` : condition;
    if (BAD_INPUT.has(condition)) this.deps.clients.protocolErrors++;
    this.log.info({ conn: this.id, condition, text, jid: this.session?.full }, 'xmpp: stream error');
    if (!this.streamOpen) this.sendHeader(undefined);
    this.write(streamErrorXml(condition, text));
    const s = this.session;
    this.session = null;
    this.closeStream();
    if (s && s.link === this) this.deps.hub.endSession(s, true);
  }

  // ---- stream header and features -------------------------------------------------------------

  private sendHeader(id: string | undefined): void {
    const sid = id ?? randomBytes(8).toString('hex');
    const from = escapeAttr(this.deps.settings.domain);
    if (this.ws) this.write(`<open xmlns='${NS.framing}' id='${sid}' from='${from}' version='1.0' xml:lang='en'/>`);
    else this.write(`<?xml version='1.0'?><stream:stream xmlns='${NS.client}' xmlns:stream='${NS.stream}' id='${sid}' from='${from}' version='1.0' xml:lang='en'>`);
    this.streamOpen = true;
  }

  private onStreamStart(name: string, uri: string, attrs: Record<string, string>): void {
    if (this.closed) return;
    if (name !== 'stream' || uri !== NS.stream) return this.streamError('invalid-namespace', 'the stream element is <stream:stream>');
    if ((attrs.xmlns ?? '') !== NS.client) return this.streamError('invalid-namespace', 'the content namespace is jabber:client');
    this.openStream(attrs);
  }

  private openStream(attrs: Record<string, string>): void {
    const to = attrs.to?.toLowerCase();
    if (to !== undefined && to !== this.deps.settings.domain) {
      this.sendHeader(undefined);
      return this.streamError('host-unknown', `this server serves ${this.deps.settings.domain}`);
    }
    const major = Number.parseInt((attrs.version ?? '0').split('.')[0], 10);
    if (!(major >= 1)) {
      this.sendHeader(undefined);
      return this.streamError('unsupported-version', 'version 1.0 is required');
    }
    this.sendHeader(undefined);
    this.write(this.features().toString());
  }

  private get tlsOffered(): boolean {
    return this.socket !== null && this.deps.secureContext !== null && !this.secure;
  }

  private get tlsRequiredNow(): boolean {
    return this.tlsOffered && this.deps.settings.requireTls;
  }

  private mechanisms(): string[] {
    const s = this.deps.settings;
    const wanted = s.mechanisms.filter((m) => m !== 'PLAIN' || this.secure || s.allowPlainWithoutTls);
    return this.deps.sasl.offered(this.saslPeer(), wanted);
  }

  private features(): XElement {
    const f = x('stream:features', { 'xmlns:stream': NS.stream });
    if (!this.principal) {
      if (this.tlsOffered) f.c(x('starttls', { xmlns: NS.tls }, this.deps.settings.requireTls ? x('required') : null));
      if (!this.tlsRequiredNow) {
        const mechs = x('mechanisms', { xmlns: NS.sasl });
        for (const m of this.mechanisms()) mechs.c(x('mechanism', null, m));
        f.c(mechs);
        if (this.deps.settings.registration && !this.registered) f.c(x('register', { xmlns: NS.registerFeature }));
      }
    } else {
      f.c(x('bind', { xmlns: NS.bind }));
      f.c(x('session', { xmlns: NS.session }, x('optional')));
      f.c(x('sm', { xmlns: NS.sm }));
    }
    return f;
  }

  private onStreamEnd(): void {
    this.clientClosed = true;
    const s = this.session;
    this.session = null;
    this.closeStream();
    if (s && s.link === this) this.deps.hub.endSession(s, true);
  }

  // ---- stanza pipeline ------------------------------------------------------------------------

  private isHalting(el: XElement): boolean {
    if (this.ws || this.principal) return false;
    return el.ns === NS.sasl || el.ns === NS.tls;
  }

  private onStanza(el: XElement): boolean {
    if (this.closed) return false;
    const halting = this.isHalting(el);
    if (halting || this.busy || this.queue.length > 0) {
      this.queue.push(el);
      if (this.queue.length > QUEUE_PAUSE) this.pause('queue');
      if (!this.busy) this.scheduleDrain();
      return halting;
    }
    this.run(el);
    return false;
  }

  private scheduleDrain(): void {
    if (this.drainScheduled) return;
    this.drainScheduled = true;
    queueMicrotask(() => {
      this.drainScheduled = false;
      this.drainQueue();
    });
  }

  private drainQueue(): void {
    while (!this.busy && this.queue.length > 0 && !this.closed) this.run(this.queue.shift()!);
    if (this.queue.length <= QUEUE_PAUSE / 2) this.resume('queue');
    this.settleInput();
  }

  private run(el: XElement): void {
    let r: void | Promise<void>;
    try {
      r = this.process(el);
    } catch (e) {
      this.fail(e);
      return;
    }
    if (r) {
      this.busy = true;
      r.catch((e) => this.fail(e)).finally(() => {
        this.busy = false;
        this.drainQueue();
      });
    }
  }

  private process(el: XElement): void | Promise<void> {
    if (this.closed) return;
    if (el === STREAM_END) return this.onStreamEnd();
    if (this.ws && el.is('open', NS.framing)) return this.openStream(el.attrs);
    if (this.ws && el.is('close', NS.framing)) return this.onStreamEnd();
    if (el.is('error', NS.stream)) {
      this.log.info({ conn: this.id }, 'xmpp: client sent a stream error');
      return this.onStreamEnd();
    }
    if (!this.streamOpen) return this.streamError('not-well-formed', 'expected a stream header');
    if (!this.principal) return this.preAuth(el);
    if (!this.session) return this.preBind(el);
    return this.bound(this.session, el);
  }

  // ---- before authentication ------------------------------------------------------------------

  private preAuth(el: XElement): void | Promise<void> {
    if (el.is('starttls', NS.tls)) {
      if (!this.tlsOffered) return this.streamError('policy-violation', 'STARTTLS is not available');
      return this.startTls();
    }
    if (this.tlsRequiredNow) return this.streamError('policy-violation', 'encryption is required: STARTTLS first');
    if (el.ns === NS.sasl) return this.onSasl(el);
    if (el.is('iq', NS.client) && el.elements()[0]?.is('query', NS.register)) {
      if (this.deps.settings.registration) return this.onRegister(el);
      return this.write(out(errorReply(el, 'not-allowed', 'in-band registration is disabled')));
    }
    return this.streamError('not-authorized', 'authenticate first');
  }

  private startTls(): void {
    const raw = this.socket!;
    this.write(`<proceed xmlns='${NS.tls}'/>`);
    this.parser.discardHeld();
    this.detachSocket(raw);
    raw.resume();
    const secure = new TLSSocket(raw, {
      isServer: true,
      secureContext: this.deps.secureContext!,
      requestCert: this.deps.requestCert,
      rejectUnauthorized: this.deps.rejectUnauthorized,
    });
    this.attachSocket(secure);
    this.pauses.clear();
    this.pause('tls');
    secure.resume();
    secure.once('secure', () => {
      if (this.deps.requestCert && !checkClientCertificate(secure, this.deps.rejectUnauthorized)) return;
      this.secure = true;
      this.streamOpen = false;
      this.parser.resetDecoder();
      this.parser.discardHeld();
      const cont = this.parser.resume(true);
      this.pauses.delete('halt');
      this.pauses.delete('tls');
      if (cont && this.pauses.size === 0) secure.resume();
      else if (!cont) this.pause('halt');
    });
  }

  private saslPeer(): SaslPeer {
    return {
      protocol: 'xmpp', remote: this.remote, domain: this.deps.settings.domain, credentials: this.deps.accounts,
      tls: this.socket instanceof TLSSocket ? this.socket : null,
    };
  }

  private async onSasl(el: XElement): Promise<void> {
    let outcome: SaslOutcome;
    if (el.local === 'auth') {
      const name = el.attr('mechanism') ?? '';
      if (!this.mechanisms().includes(name)) return this.saslFailure('invalid-mechanism');
      const initial = this.decode(el.text());
      if (initial === undefined) return this.saslFailure('incorrect-encoding');
      this.sasl = this.deps.sasl.exchange(this.saslPeer());
      outcome = await this.sasl.start(name, initial);
    } else if (el.local === 'response') {
      if (!this.sasl) return this.saslFailure('malformed-request');
      const data = this.decode(el.text());
      if (data === undefined) return this.saslFailure('incorrect-encoding');
      outcome = await this.sasl.step(data ?? Buffer.alloc(0));
    } else if (el.local === 'abort') {
      this.sasl = null;
      return this.saslFailure('aborted', false);
    } else {
      return this.streamError('not-authorized', 'unexpected SASL element');
    }
    if (this.closed) return;
    if (outcome.kind === 'challenge') {
      this.write(x('challenge', { xmlns: NS.sasl }, outcome.data.length ? outcome.data.toString('base64') : '=').toString());
      this.continueParsing(false);
      return;
    }
    this.sasl = null;
    if (outcome.kind === 'failure') return this.saslFailure(outcome.reason, true, outcome.reason === 'not-authorized' ? undefined : outcome.message);
    const { principal } = outcome;
    // Anonymous clients get a fresh local part each (RFC 4505 section 3 leaves the identity to the server).
    const local = principal.anonymous ? `anon-${randomBytes(6).toString('hex')}` : normaliseLocal(principal.user);
    if (!local) return this.saslFailure('not-authorized');
    this.principal = { user: principal.anonymous ? local : principal.user, anonymous: principal.anonymous };
    this.local = local;
    this.parser.limits = { maxStanzaChars: this.deps.settings.maxStanzaBytes, maxDepth: this.deps.settings.maxDepth };
    this.write(x('success', { xmlns: NS.sasl }, outcome.data ? outcome.data.toString('base64') : null).toString());
    this.log.debug({ conn: this.id, user: local }, 'xmpp: authenticated');
    this.streamOpen = false;
    this.continueParsing(true);
  }

  /** undefined = bad base64; null = no initial response; '=' = empty. */
  private decode(text: string): Buffer | null | undefined {
    const t = text.trim();
    if (t === '') return null;
    if (t === '=') return Buffer.alloc(0);
    if (!BASE64.test(t) || t.length % 4 !== 0) return undefined;
    return Buffer.from(t, 'base64');
  }

  private saslFailure(condition: string, counts = true, text?: string): void {
    this.sasl = null;
    this.write(x('failure', { xmlns: NS.sasl }, x(condition), text ? x('text', { 'xml:lang': 'en' }, text) : null).toString());
    if (counts && ++this.authFailures >= this.deps.settings.maxAuthFailures) {
      this.streamError('policy-violation', 'too many authentication failures');
      return;
    }
    this.continueParsing(false);
  }

  private continueParsing(restart: boolean): void {
    if (this.ws) {
      return;
    }
    try {
      const cont = this.parser.resume(restart);
      if (cont) this.resume('halt');
    } catch (e) {
      this.fail(e);
    }
  }

  private async onRegister(iq: XElement): Promise<void> {
    const type = iq.attr('type');
    const q = iq.elements()[0];
    const reply = (el: XElement) => this.write(out(el));
    if (type === 'get') {
      return reply(iqResult(iq, x('query', { xmlns: NS.register },
        x('instructions', null, 'Choose a user name and password.'), x('username'), x('password'))));
    }
    if (type !== 'set') return;
    if (this.registered) return reply(errorReply(iq, 'not-allowed', 'one registration per connection'));
    if (q.child('remove')) return reply(errorReply(iq, 'registration-required', undefined, undefined, 'auth'));
    const username = q.childText('username') ?? '';
    const password = q.childText('password') ?? '';
    if (!username || !password) return reply(errorReply(iq, 'not-acceptable', 'username and password are required'));
    try {
      const local = await this.deps.accounts.register(username, password);
      this.registered = true;
      this.log.info({ conn: this.id, user: local }, 'xmpp: account registered');
      reply(iqResult(iq));
    } catch (e) {
      if (e instanceof AccountExistsError) return reply(errorReply(iq, 'conflict', 'the user name is taken'));
      if (e instanceof InvalidAccountError) return reply(errorReply(iq, 'not-acceptable', e.message));
      throw e;
    }
  }

  // ---- after authentication, before binding --------------------------------------------------

  private preBind(el: XElement): void {
    if (el.is('iq', NS.client) && el.attr('type') === 'set') {
      const bind = el.elements()[0];
      if (bind?.is('bind', NS.bind)) return this.onBind(el, bind);
    }
    if (el.is('resume', NS.sm)) return this.onResume(el);
    if (el.is('enable', NS.sm)) return this.write(smFailed('unexpected-request'));
    if (el.is('iq', NS.client) && el.elements()[0]?.is('session', NS.session)) return this.write(out(iqResult(el)));
    return this.streamError('not-authorized', 'bind a resource first');
  }

  private onBind(iq: XElement, bind: XElement): void {
    const result = this.deps.hub.bind(this, this.principal!, this.local, bind.childText('resource'));
    if (typeof result === 'string') {
      this.write(out(errorReply(iq, result)));
      return;
    }
    this.session = result;
    this.client.identify(result.full, this.principal!.anonymous ? null : this.local);
    clearTimeout(this.negotiationTimer);
    this.write(out(iqResult(iq, x('bind', { xmlns: NS.bind }, x('jid', null, result.full)))));
  }

  private onResume(el: XElement): void {
    const previd = el.attr('previd') ?? '';
    const h = Number(el.attr('h'));
    const s = this.deps.hub.resumable(previd, `${this.local}@${this.deps.settings.domain}`);
    if (!s || !Number.isInteger(h) || h < 0) {
      this.write(smFailed('item-not-found'));
      return;
    }
    if (!s.acknowledge(h)) {
      this.write(smFailed('unexpected-request'));
      return;
    }
    this.session = s;
    clearTimeout(this.negotiationTimer);
    this.write(`<resumed xmlns='${NS.sm}' previd='${escapeAttr(previd)}' h='${s.inH}'/>`);
    s.resumeOn(this);
    this.client.identify(s.full, this.principal?.anonymous ? null : this.local);
    this.log.debug({ conn: this.id, jid: s.full }, 'xmpp: session resumed');
  }

  // ---- bound ----------------------------------------------------------------------------------

  private bound(s: Session, el: XElement): void | Promise<void> {
    if (el.ns === NS.sm) return this.onSm(s, el);
    if (el.ns !== NS.client) return this.streamError('unsupported-stanza-type', `<${el.name}/> in ${el.ns || 'no namespace'}`);
    if (el.local === 'message') this.client.messagesIn++;
    if (s.smEnabled && (el.local === 'message' || el.local === 'presence' || el.local === 'iq')) s.inH = (s.inH + 1) >>> 0;
    return this.deps.hub.handle(s, el);
  }

  private onSm(s: Session, el: XElement): void {
    switch (el.local) {
      case 'r':
        if (s.smEnabled) this.write(`<a xmlns='${NS.sm}' h='${s.inH}'/>`);
        return;
      case 'a': {
        const h = Number(el.attr('h'));
        if (!s.smEnabled || !Number.isInteger(h) || h < 0) return;
        if (!s.acknowledge(h)) this.streamError('undefined-condition', 'acknowledged more stanzas than were sent');
        return;
      }
      case 'enable': {
        if (s.smEnabled) return this.write(smFailed('unexpected-request'));
        const resume = el.attr('resume') === 'true' || el.attr('resume') === '1';
        s.enableSm(resume);
        if (resume) this.deps.hub.bySmId.set(s.id, s);
        const max = Math.floor(this.deps.settings.smResumeTimeoutMs / 1000);
        this.write(resume ? `<enabled xmlns='${NS.sm}' id='${s.id}' resume='true' max='${max}'/>` : `<enabled xmlns='${NS.sm}'/>`);
        return;
      }
      case 'resume':
        return this.write(smFailed('unexpected-request'));
      default:
        return;
    }
  }
}

function smFailed(condition: string): string {
  return `<failed xmlns='${NS.sm}'><${condition} xmlns='${NS.stanzas}'/></failed>`;
}
