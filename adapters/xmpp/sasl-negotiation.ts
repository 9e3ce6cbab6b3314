/**
 * SASL on an XMPP stream (RFC 6120 6) over the platform's SASL service, and in-band registration
 * (XEP-0077) before authentication. Failures are counted: past `maxAuthFailures` the stream ends.
 */
import { randomBytes } from 'node:crypto';
import type { TLSSocket } from 'node:tls';
import type { Logger, Principal, SaslExchange, SaslOutcome, SaslPeer, SaslService } from '../../core/adapter.js';
import { AccountExistsError, InvalidAccountError, type Accounts } from './accounts.js';
import type { XmppSettings } from './config.js';
import { normaliseLocal } from './jid.js';
import { NS } from './ns.js';
import { errorReply, iqResult, out } from './stanza.js';
import { x, type XElement } from './xml.js';

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/** What SASL needs of its connection. */
export interface SaslHost {
  readonly id: string;
  readonly log: Logger;
  readonly closed: boolean;
  /** The stream is encrypted (STARTTLS or a TLS listener). */
  readonly secure: boolean;
  readonly tls: TLSSocket | null;
  write(data: string): void;
  streamError(condition: string, text?: string): void;
  /** The parser may go on (`restart`: a new stream header follows). */
  continueParsing(restart: boolean): void;
  /** Authenticated as `principal` with the local part `local`; `data` is the success's additional data. */
  authenticated(principal: Principal, local: string, data: Buffer | undefined): void;
  /** Counts the connection for its user (limits.maxConnectionsPerUser); false at the limit. */
  claimUser(user: string | null): boolean;
}

export class SaslNegotiation {
  private exchange: SaslExchange | null = null;
  private failures = 0;
  /** An account was registered on this connection (one per connection). */
  registered = false;

  constructor(
    private readonly host: SaslHost,
    private readonly sasl: SaslService,
    private readonly settings: XmppSettings,
    private readonly accounts: Accounts,
    private readonly remote: string | undefined,
  ) {}

  peer(): SaslPeer {
    return { protocol: 'xmpp', remote: this.remote, domain: this.settings.domain, credentials: this.accounts, tls: this.host.tls };
  }

  /** Mechanisms offered now (PLAIN only over TLS unless allowed). */
  mechanisms(): string[] {
    const s = this.settings;
    const wanted = s.mechanisms.filter((m) => m !== 'PLAIN' || this.host.secure || s.allowPlainWithoutTls);
    return this.sasl.offered(this.peer(), wanted);
  }

  /** An element in the SASL namespace: auth, response or abort. */
  async handle(el: XElement): Promise<void> {
    const host = this.host;
    let outcome: SaslOutcome;
    if (el.local === 'auth') {
      const name = el.attr('mechanism') ?? '';
      if (!this.mechanisms().includes(name)) return this.failure('invalid-mechanism');
      const initial = decode(el.text());
      if (initial === undefined) return this.failure('incorrect-encoding');
      this.exchange = this.sasl.exchange(this.peer());
      outcome = await this.exchange.start(name, initial);
    } else if (el.local === 'response') {
      if (!this.exchange) return this.failure('malformed-request');
      const data = decode(el.text());
      if (data === undefined) return this.failure('incorrect-encoding');
      outcome = await this.exchange.step(data ?? Buffer.alloc(0));
    } else if (el.local === 'abort') {
      this.exchange = null;
      return this.failure('aborted', false);
    } else {
      return host.streamError('not-authorized', 'unexpected SASL element');
    }
    if (host.closed) return;
    if (outcome.kind === 'challenge') {
      host.write(x('challenge', { xmlns: NS.sasl }, outcome.data.length ? outcome.data.toString('base64') : '=').toString());
      host.continueParsing(false);
      return;
    }
    this.exchange = null;
    if (outcome.kind === 'failure') return this.failure(outcome.reason, true, outcome.reason === 'not-authorized' ? undefined : outcome.message);
    const { principal } = outcome;
    // Anonymous clients get a fresh local part each (RFC 4505 section 3 leaves the identity to the server).
    const local = principal.anonymous ? `anon-${randomBytes(6).toString('hex')}` : normaliseLocal(principal.user);
    if (!local) return this.failure('not-authorized');
    // Counted under the name the connection list shows; the registry logs refusals.
    if (!host.claimUser(principal.anonymous ? null : local)) return this.failure('temporary-auth-failure', false, 'too many connections for this user');
    host.authenticated({ user: principal.anonymous ? local : principal.user, anonymous: principal.anonymous }, local, outcome.data);
  }

  private failure(condition: string, counts = true, text?: string): void {
    this.exchange = null;
    this.host.write(x('failure', { xmlns: NS.sasl }, x(condition), text ? x('text', { 'xml:lang': 'en' }, text) : null).toString());
    if (counts && ++this.failures >= this.settings.maxAuthFailures) {
      this.host.streamError('policy-violation', 'too many authentication failures');
      return;
    }
    this.host.continueParsing(false);
  }

  /** In-band registration (XEP-0077) before authentication. */
  async register(iq: XElement): Promise<void> {
    const type = iq.attr('type');
    const q = iq.elements()[0];
    const reply = (el: XElement) => this.host.write(out(el));
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
      const local = await this.accounts.register(username, password);
      this.registered = true;
      this.host.log.info({ conn: this.host.id, user: local }, 'xmpp: account registered');
      reply(iqResult(iq));
    } catch (e) {
      if (e instanceof AccountExistsError) return reply(errorReply(iq, 'conflict', 'the user name is taken'));
      if (e instanceof InvalidAccountError) return reply(errorReply(iq, 'not-acceptable', e.message));
      throw e;
    }
  }
}

/** undefined = bad base64; null = no initial response; '=' = empty. */
function decode(text: string): Buffer | null | undefined {
  const t = text.trim();
  if (t === '') return null;
  if (t === '=') return Buffer.alloc(0);
  if (!BASE64.test(t) || t.length % 4 !== 0) return undefined;
  return Buffer.from(t, 'base64');
}
