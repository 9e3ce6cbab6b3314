/**
 * SASL for the AMQP listener (spec part 5.3): PLAIN against the auth plugin, ANONYMOUS only while
 * the auth plugin allows anonymous access. The mechanism objects follow rhea's server mechanism
 * contract (`start(response, hostname)` -> settles `outcome` and `username`).
 */
import type { AuthPlugin, Principal } from '../../core/adapter.js';

export interface SaslHooks {
  /** Authentication succeeded. */
  authenticated(principal: Principal, mechanism: string): void;
  /** Authentication failed; the outcome is on its way to the client. */
  failed(mechanism: string, user: string | undefined): void;
}

const MAX_FIELD = 1024;

/** Splits a PLAIN response: [authzid] NUL authcid NUL passwd (RFC 4616). */
export function parsePlain(response: Buffer | undefined): { authzid: string; user: string; password: string } | null {
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

class PlainMechanism {
  outcome: boolean | undefined;
  username: string | undefined;
  constructor(private readonly auth: AuthPlugin, private readonly hooks: SaslHooks, private readonly remote?: string) {}

  async start(response: Buffer | undefined): Promise<void> {
    const p = parsePlain(response);
    if (!p || (p.authzid !== '' && p.authzid !== p.user)) {
      this.outcome = false;
      this.hooks.failed('PLAIN', p?.user);
      return;
    }
    let principal: Principal | null = null;
    try {
      principal = await this.auth.authenticate('amqp', p.user, p.password, this.remote);
    } catch {
      principal = null;
    }
    if (principal) {
      this.outcome = true;
      this.username = principal.user;
      this.hooks.authenticated(principal, 'PLAIN');
    } else {
      this.outcome = false;
      this.hooks.failed('PLAIN', p.user);
    }
  }

  step(): void {
    this.outcome = false;
  }
}

class AnonymousMechanism {
  outcome: boolean | undefined;
  username: string | undefined;
  constructor(private readonly auth: AuthPlugin, private readonly hooks: SaslHooks) {}

  async start(): Promise<void> {
    let principal: Principal | null = null;
    try {
      principal = await this.auth.authenticate('amqp', undefined, undefined);
    } catch {
      principal = null;
    }
    if (principal) {
      this.outcome = true;
      this.username = principal.user;
      this.hooks.authenticated(principal, 'ANONYMOUS');
    } else {
      this.outcome = false;
      this.hooks.failed('ANONYMOUS', undefined);
    }
  }

  step(): void {
    this.outcome = false;
  }
}

/**
 * rhea server mechanisms (own property names are the offered list, in this order). `remote`: the
 * client's IP address, for the auth plugin's per-address failure limit.
 */
export function serverMechanisms(auth: AuthPlugin, hooks: SaslHooks, remote?: string): Record<string, () => unknown> {
  const mechs: Record<string, () => unknown> = {};
  mechs.PLAIN = () => new PlainMechanism(auth, hooks, remote);
  if (auth.anonymousAllowed) mechs.ANONYMOUS = () => new AnonymousMechanism(auth, hooks);
  return mechs;
}
