/**
 * SASL for every protocol adapter, over the auth plugin: PLAIN (RFC 4616), SCRAM-SHA-1/256/512
 * (RFC 5802 / 7677, see sasl-scram.ts), EXTERNAL (RFC 4422 appendix A: the verified TLS client
 * certificate's common name, on a listener with its own CA) and ANONYMOUS (RFC 4505, only while
 * the plugin allows anonymous access). Adapters map the outcomes onto their frames: Kafka
 * SaslHandshake/SaslAuthenticate, XMPP <auth>/<challenge>, AMQP sasl-init/-challenge/-outcome,
 * MQTT 5 CONNECT/AUTH. What each mechanism needs is in docs/security.md.
 */
import type { TlsOptions } from 'node:tls';
import type {
  AuthPlugin, Principal, SaslCredentials, SaslExchange, SaslOutcome, SaslPeer, SaslService, ScramMechanismName,
} from '../../core/adapter.js';
import { saslFail, ScramServer, type SaslMechanism } from './sasl-scram.js';

export { ScramServer, unescapeSaslName, type SaslMechanism } from './sasl-scram.js';

/** Strongest first: the order offered when an adapter does not choose. */
export const SASL_MECHANISMS = ['EXTERNAL', 'SCRAM-SHA-512', 'SCRAM-SHA-256', 'SCRAM-SHA-1', 'PLAIN', 'ANONYMOUS'] as const;
const SCRAM = new Set<string>(['SCRAM-SHA-1', 'SCRAM-SHA-256', 'SCRAM-SHA-512']);
const MAX_FIELD = 1024;

/** Splits a PLAIN message: [authzid] NUL authcid NUL passwd (RFC 4616); null unless well-formed. */
export function parsePlain(response: Buffer | null | undefined): { authzid: string; user: string; password: string } | null {
  if (!Buffer.isBuffer(response) || response.length === 0 || response.length > 3 * MAX_FIELD) return null;
  const a = response.indexOf(0);
  const b = a < 0 ? -1 : response.indexOf(0, a + 1);
  if (a < 0 || b < 0 || response.indexOf(0, b + 1) >= 0) return null;
  return {
    authzid: response.toString('utf8', 0, a),
    user: response.toString('utf8', a + 1, b),
    password: response.toString('utf8', b + 1),
  };
}

function authzidFits(authzid: string, user: string, domain: string | undefined): boolean {
  return authzid === '' || authzid === user || (domain !== undefined && authzid.toLowerCase() === `${user.toLowerCase()}@${domain}`);
}

/** The auth plugin as SaslCredentials for one protocol. */
export function pluginCredentials(auth: AuthPlugin, protocol: string): SaslCredentials {
  return {
    checkPassword: (user, password, remote) => auth.authenticate(protocol, user, password, remote),
    scramCredentials: (user, mechanism, remote) => auth.scramCredentials(user, mechanism, remote),
    verifyScram: (user, mechanism, creds, authMessage, proof, remote) =>
      auth.verifyScram(protocol, user, mechanism, creds, authMessage, proof, remote),
  };
}

class PlainServer implements SaslMechanism {
  private used = false;
  constructor(private readonly credentials: SaslCredentials, private readonly peer: SaslPeer) {}

  async start(initial: Buffer | null): Promise<SaslOutcome> {
    if (initial === null) return { kind: 'challenge', data: Buffer.alloc(0) };
    return this.step(initial);
  }

  async step(response: Buffer): Promise<SaslOutcome> {
    if (this.used) return saslFail('malformed-request', 'PLAIN takes one message');
    this.used = true;
    const p = parsePlain(response);
    if (!p) return saslFail('malformed-request', 'malformed PLAIN message');
    if (p.user === '') return saslFail('not-authorized', 'empty user name');
    if (!authzidFits(p.authzid, p.user, this.peer.domain)) return saslFail('invalid-authzid', 'the authorisation id differs from the user name');
    const principal = await this.credentials.checkPassword(p.user, p.password, this.peer.remote);
    // An unknown name that the plugin lets in as anonymous is still a failed PLAIN login.
    if (!principal || principal.anonymous) return saslFail('not-authorized', `authentication failed for user ${p.user}`);
    return { kind: 'success', principal };
  }
}

class AnonymousServer implements SaslMechanism {
  constructor(private readonly auth: AuthPlugin, private readonly peer: SaslPeer) {}

  async start(): Promise<SaslOutcome> {
    // The initial response is trace information (RFC 4505): not a user name.
    const principal = await this.auth.authenticate(this.peer.protocol, undefined, undefined, this.peer.remote);
    if (!principal) return saslFail('not-authorized', 'anonymous access is not allowed');
    return { kind: 'success', principal };
  }

  async step(): Promise<SaslOutcome> {
    return saslFail('malformed-request', 'ANONYMOUS takes one message');
  }
}

class ExternalServer implements SaslMechanism {
  private used = false;
  constructor(private readonly user: string, private readonly peer: SaslPeer) {}

  async start(initial: Buffer | null): Promise<SaslOutcome> {
    if (initial === null) return { kind: 'challenge', data: Buffer.alloc(0) };
    return this.step(initial);
  }

  async step(response: Buffer): Promise<SaslOutcome> {
    if (this.used) return saslFail('malformed-request', 'EXTERNAL takes one message');
    this.used = true;
    const authzid = response.length > MAX_FIELD ? null : response.toString('utf8');
    if (authzid === null || !authzidFits(authzid, this.user, this.peer.domain)) {
      return saslFail('invalid-authzid', 'the authorisation id differs from the certificate name');
    }
    const principal: Principal = { user: this.user, anonymous: false };
    return { kind: 'success', principal };
  }
}

export class JunctionSasl implements SaslService {
  readonly known: readonly string[] = SASL_MECHANISMS;

  constructor(
    private readonly auth: AuthPlugin,
    /** The listeners' TLS settings: EXTERNAL needs a listener that verifies client certificates against its own `ca`. */
    private readonly tls: (listener: string) => TlsOptions | null = () => null,
  ) {}

  offered(peer: SaslPeer, wanted: readonly string[] = SASL_MECHANISMS): string[] {
    return wanted.filter((m) => this.available(m, peer));
  }

  exchange(peer: SaslPeer): SaslExchange {
    return new Exchange(this, peer);
  }

  available(mechanism: string, peer: SaslPeer): boolean {
    if (mechanism === 'PLAIN' || SCRAM.has(mechanism)) return true;
    if (mechanism === 'ANONYMOUS') return this.auth.anonymousAllowed;
    if (mechanism === 'EXTERNAL') return this.certificateUser(peer) !== null;
    return false;
  }

  /**
   * The common name of a client certificate that the listener verified against its own CA (not
   * the system's: any public certificate would otherwise name any user). Null otherwise.
   */
  certificateUser(peer: SaslPeer): string | null {
    const t = peer.tls;
    if (!t?.authorized || !this.tls(peer.protocol)?.ca) return null;
    const cn = t.getPeerCertificate()?.subject?.CN;
    const name = Array.isArray(cn) ? cn[0] : cn;
    return typeof name === 'string' && name.length > 0 && name.length <= 256 ? name : null;
  }

  mechanism(name: string, peer: SaslPeer): SaslMechanism | null {
    if (!this.available(name, peer)) return null;
    const credentials = peer.credentials ?? pluginCredentials(this.auth, peer.protocol);
    if (SCRAM.has(name)) return new ScramServer(credentials, name as ScramMechanismName, peer.domain, peer.remote);
    if (name === 'PLAIN') return new PlainServer(credentials, peer);
    if (name === 'ANONYMOUS') return new AnonymousServer(this.auth, peer);
    return new ExternalServer(this.certificateUser(peer)!, peer);
  }
}

class Exchange implements SaslExchange {
  mechanism: string | null = null;
  private current: SaslMechanism | null = null;

  constructor(private readonly service: JunctionSasl, private readonly peer: SaslPeer) {}

  async start(mechanism: string, initial: Buffer | null): Promise<SaslOutcome> {
    this.current = this.service.mechanism(mechanism, this.peer);
    if (!this.current) return saslFail('invalid-mechanism', `mechanism ${mechanism} is not offered`);
    this.mechanism = mechanism;
    return this.settle(await this.current.start(initial));
  }

  async step(response: Buffer): Promise<SaslOutcome> {
    if (!this.current) return saslFail('malformed-request', 'no SASL exchange in progress');
    return this.settle(await this.current.step(response));
  }

  private settle(outcome: SaslOutcome): SaslOutcome {
    if (outcome.kind !== 'challenge') this.current = null;
    return outcome;
  }
}

/** The SASL service over an auth plugin; `tls` tells which listeners verify client certificates. */
export function createSaslService(auth: AuthPlugin, tls?: (listener: string) => TlsOptions | null): SaslService {
  return new JunctionSasl(auth, tls);
}
