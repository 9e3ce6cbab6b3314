/**
 * One client connection, TCP (RFC 6120) or WebSocket (RFC 7395): stream negotiation (header,
 * features, STARTTLS, resource binding, legacy session), the idle and negotiation timeouts, and
 * stream errors. Once bound it hands stanzas to the Hub. Its parts: transport.ts (socket or
 * WebSocket, byte rate, pauses, STARTTLS upgrade), stanza-queue.ts (in-order processing, bounded),
 * sasl-negotiation.ts (SASL and in-band registration), stream-management.ts (XEP-0198).
 *
 * Stanzas read are never discarded by the client going away: `</stream:stream>` takes its turn
 * behind the stanzas read before it; after a FIN (the listener allows half-open) the stanzas read
 * are handled, then we close the stream and our side; after a close or reset they are still
 * handled (messages delivered or stored offline), with nothing left to answer, and only then is the
 * session ended (or kept for resumption).
 */
import { randomBytes } from 'node:crypto';
import type { Socket } from 'node:net';
import type { SecureContext } from 'node:tls';
import type { WebSocket } from 'ws';
import type { Logger, Principal, SaslService } from '../../core/adapter.js';
import type { ClientConnection, ProtocolConnections } from '../../core/connection-registry.js';
import type { Accounts } from './accounts.js';
import type { XmppSettings } from './config.js';
import type { Hub } from './hub.js';
import { NS } from './ns.js';
import { StreamError, XmppStreamParser } from './parser.js';
import { SaslNegotiation } from './sasl-negotiation.js';
import { StanzaQueue } from './stanza-queue.js';
import type { Session, SessionLink } from './session.js';
import { errorReply, iqResult, out, streamErrorXml } from './stanza.js';
import { checkClientCertificate } from './starttls.js';
import { onSm, resumeSession, smFailed, type SmHost } from './stream-management.js';
import { XmppTransport } from './transport.js';
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

let nextConn = 1;
/** Stream errors that mean the client sent something wrong (counted as protocol errors). */
const BAD_INPUT = new Set([
  'bad-format', 'invalid-namespace', 'invalid-xml', 'not-well-formed', 'restricted-xml', 'unsupported-encoding',
  'unsupported-stanza-type', 'unsupported-version', 'host-unknown', 'improper-addressing', 'undefined-condition', 'not-authorized',
]);

export class Connection implements SessionLink {
  readonly id = `x${nextConn++}`;
  private readonly parser: XmppStreamParser;
  private readonly transport: XmppTransport;
  /** Until authenticated (then dropped: a bound session holds none). */
  private auth: SaslNegotiation | null;
  private readonly sm: SmHost;
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
  private readonly stanzas: StanzaQueue;
  private negotiationTimer?: NodeJS.Timeout;
  private idleTimer?: NodeJS.Timeout;
  private lastInput = Date.now();
  /** When an idle check sent a ping (or an XEP-0198 request) not answered by any input yet; 0 = none. */
  private idlePingAt = 0;
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
    // eslint-disable-next-line @typescript-eslint/no-this-alias
    const self = this;
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
    this.secure = transport.secure;
    const mode = 'ws' in transport ? 'ws' : 'tcp';
    this.parser = new XmppStreamParser(mode, { maxStanzaChars: s.maxUnauthenticatedStanzaBytes, maxDepth: s.maxDepth }, {
      streamStart: (name, uri, attrs) => this.onStreamStart(name, uri, attrs),
      stanza: (el) => this.onStanza(el),
      streamEnd: () => { this.onStanza(STREAM_END); },
    });
    this.transport = new XmppTransport({
      bytes: (data) => {
        this.lastInput = Date.now();
        try {
          return this.parser.writeBytes(data);
        } catch (e) {
          this.fail(e);
          return true;
        }
      },
      message: (data, binary) => {
        this.lastInput = Date.now();
        if (binary) {
          this.fail(new StreamError('unsupported-encoding', 'XMPP over WebSocket uses text frames'));
          return;
        }
        try {
          this.parser.writeMessage(data.toString('utf8'));
        } catch (e) {
          this.fail(e);
        }
      },
      ended: () => {
        this.inputEnded = true;
        this.settleInput();
      },
      closed: () => this.transportClosed(),
    }, s, deps.log, this.id, 'ws' in transport ? { ws: transport.ws } : { socket: transport.socket });
    this.stanzas = new StanzaQueue({
      get closed() { return self.closed; },
      process: (el) => this.process(el),
      fail: (e) => this.fail(e),
      pauseReading: () => this.transport.pause('queue'),
      resumeReading: () => this.transport.resume('queue'),
      idle: () => this.settleInput(),
    }, QUEUE_PAUSE);
    this.auth = new SaslNegotiation({
      id: this.id,
      log: deps.log,
      get closed() { return self.closed; },
      get secure() { return self.secure; },
      get tls() { return self.transport.tls; },
      write: (data) => this.write(data),
      streamError: (c, t) => this.streamError(c, t),
      continueParsing: (restart) => this.continueParsing(restart),
      authenticated: (principal, local, data) => this.authenticated(principal, local, data),
      claimUser: (user) => this.client.claimUser(user),
    }, deps.sasl, s, deps.accounts, this.remote);
    this.sm = {
      hub: deps.hub,
      smResumeTimeoutMs: s.smResumeTimeoutMs,
      write: (data) => this.write(data),
      streamError: (c, t) => this.streamError(c, t),
    };
    this.negotiationTimer = setTimeout(() => this.streamError('connection-timeout', 'negotiation took too long'), s.negotiationTimeoutMs);
    this.negotiationTimer.unref();
    if (s.idleTimeoutMs > 0) this.armIdle(s.idleTimeoutMs);
  }

  private get log(): Logger {
    return this.deps.log;
  }

  // ---- transport ------------------------------------------------------------------------------

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
    if (this.transport.paused) this.lastInput = now;
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

  write(data: string): void {
    if (this.closed || this.transportGone) return;
    this.transport.write(data);
  }

  get congested(): boolean {
    return !this.closed && this.transport.congested;
  }

  whenDrained(cb: () => void): void {
    this.transport.whenDrained(cb);
  }

  private finish(): void {
    if (this.closed) return;
    this.closed = true;
    this.client.closed(this.closeReason ?? 'stream closed');
    clearTimeout(this.negotiationTimer);
    clearTimeout(this.idleTimer);
    this.transport.stop();
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
    if (this.closed || !this.inputEnded || !this.stanzas.empty) return;
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
    if (this.streamOpen) this.write(this.transport.ws ? `<close xmlns='${NS.framing}'/>` : '</stream:stream>');
    this.finish();
    this.transport.end();
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
    if (this.transport.ws) this.write(`<open xmlns='${NS.framing}' id='${sid}' from='${from}' version='1.0' xml:lang='en'/>`);
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
    return this.transport.socket !== null && this.deps.secureContext !== null && !this.secure;
  }

  private get tlsRequiredNow(): boolean {
    return this.tlsOffered && this.deps.settings.requireTls;
  }

  private features(): XElement {
    const f = x('stream:features', { 'xmlns:stream': NS.stream });
    if (!this.principal) {
      if (this.tlsOffered) f.c(x('starttls', { xmlns: NS.tls }, this.deps.settings.requireTls ? x('required') : null));
      if (!this.tlsRequiredNow) {
        const mechs = x('mechanisms', { xmlns: NS.sasl });
        for (const m of this.auth!.mechanisms()) mechs.c(x('mechanism', null, m));
        f.c(mechs);
        if (this.deps.settings.registration && !this.auth!.registered) f.c(x('register', { xmlns: NS.registerFeature }));
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
    if (this.transport.ws || this.principal) return false;
    return el.ns === NS.sasl || el.ns === NS.tls;
  }

  private onStanza(el: XElement): boolean {
    if (this.closed) return false;
    const halting = this.isHalting(el);
    this.stanzas.push(el, halting);
    return halting;
  }

  private process(el: XElement): void | Promise<void> {
    if (this.closed) return;
    if (el === STREAM_END) return this.onStreamEnd();
    if (this.transport.ws && el.is('open', NS.framing)) return this.openStream(el.attrs);
    if (this.transport.ws && el.is('close', NS.framing)) return this.onStreamEnd();
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
    if (el.ns === NS.sasl) return this.auth!.handle(el);
    if (el.is('iq', NS.client) && el.elements()[0]?.is('query', NS.register)) {
      if (this.deps.settings.registration) return this.auth!.register(el);
      return this.write(out(errorReply(el, 'not-allowed', 'in-band registration is disabled')));
    }
    return this.streamError('not-authorized', 'authenticate first');
  }

  private startTls(): void {
    this.write(`<proceed xmlns='${NS.tls}'/>`);
    this.parser.discardHeld();
    const d = this.deps;
    this.transport.startTls({ secureContext: d.secureContext!, requestCert: d.requestCert, rejectUnauthorized: d.rejectUnauthorized }, (secure) => {
      if (d.requestCert && !checkClientCertificate(secure, d.rejectUnauthorized)) return null;
      this.secure = true;
      this.streamOpen = false;
      this.parser.resetDecoder();
      this.parser.discardHeld();
      return this.parser.resume(true);
    });
  }

  /** SASL succeeded: bigger stanzas allowed, success written, a new stream follows. */
  private authenticated(principal: Principal, local: string, data: Buffer | undefined): void {
    this.principal = principal;
    this.auth = null;
    this.local = local;
    this.parser.limits = { maxStanzaChars: this.deps.settings.maxStanzaBytes, maxDepth: this.deps.settings.maxDepth };
    this.write(x('success', { xmlns: NS.sasl }, data ? data.toString('base64') : null).toString());
    this.log.debug({ conn: this.id, user: local }, 'xmpp: authenticated');
    this.streamOpen = false;
    this.continueParsing(true);
  }

  private continueParsing(restart: boolean): void {
    if (this.transport.ws) {
      return;
    }
    try {
      const cont = this.parser.resume(restart);
      if (cont) this.transport.resume('halt');
    } catch (e) {
      this.fail(e);
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
    const s = resumeSession(this.sm, el, `${this.local}@${this.deps.settings.domain}`);
    if (!s) return;
    this.session = s;
    clearTimeout(this.negotiationTimer);
    s.resumeOn(this);
    this.client.identify(s.full, this.principal?.anonymous ? null : this.local);
    this.log.debug({ conn: this.id, jid: s.full }, 'xmpp: session resumed');
  }

  // ---- bound ----------------------------------------------------------------------------------

  private bound(s: Session, el: XElement): void | Promise<void> {
    if (el.ns === NS.sm) return onSm(this.sm, s, el);
    if (el.ns !== NS.client) return this.streamError('unsupported-stanza-type', `<${el.name}/> in ${el.ns || 'no namespace'}`);
    if (el.local === 'message') this.client.messagesIn++;
    if (s.smEnabled && (el.local === 'message' || el.local === 'presence' || el.local === 'iq')) s.inH = (s.inH + 1) >>> 0;
    return this.deps.hub.handle(s, el);
  }
}
