/**
 * The auth plugin: authentication against the users file (scrypt hashes, SCRAM keys), anonymous
 * access, ordered per-address rules, and failed logins limited per remote address. See
 * docs/configuration.md (auth) for the rules and docs/admin.md for who may administer.
 */
import { createHmac, randomBytes } from 'node:crypto';
import type { AuthConfig } from '../../config/schema.js';
import type { AuthAction, AuthPlugin, Logger, Principal } from '../../core/adapter.js';
import {
  createUserRecord,
  formatScram,
  hashPassword,
  parseScram,
  verifyPassword,
  type HashOptions,
  type ScramCredentials,
  type ScramMechanism,
  type UserRecord,
} from './passwords.js';
import { LoginFailures } from './failures.js';
import { ANONYMOUS_USER, evaluateRules } from './rules.js';
import { checkScramProof, fakeScramCredentials, loadServerSecret, type SecretStore } from './scram.js';
import { FileUserStore, type UserStore } from './user-store.js';

export * from './passwords.js';
export * from './rules.js';
export * from './scram.js';
export * from './failures.js';
export * from './user-store.js';
export * from './sasl.js';

export class UserExistsError extends Error {
  override readonly name = 'UserExistsError';
}
export class InvalidUserNameError extends Error {
  override readonly name = 'InvalidUserNameError';
}

export interface AuthOptions {
  config: AuthConfig;
  /** Configured users. Default: the users file when `usersFile` is set, else none. */
  users?: UserStore;
  /** Where run-time registrations are written. Default: `users` when set, else none (no register()). */
  registrations?: UserStore;
  log?: Logger;
  /** Cost of hashes made by register() (tests lower it). */
  hashOptions?: HashOptions;
  /** Keeps the server secret fake SCRAM salts derive from (the broker metadata). Default: a new secret per process. */
  secrets?: SecretStore;
}

/** Failed logins per address per minute when `auth.maxFailuresPerMinute` is not set. */
export const DEFAULT_MAX_FAILURES_PER_MINUTE = 10;

const ANONYMOUS: Principal = Object.freeze({ user: ANONYMOUS_USER, anonymous: true });
const MAX_CACHE = 1024;

/** User names: 1-256 characters, no control characters, not the reserved anonymous name. */
export function checkUserName(user: string): void {
  // eslint-disable-next-line no-control-regex
  if (user.length === 0 || user.length > 256 || /[\u0000-\u001f\u007f]/.test(user) || user === ANONYMOUS_USER || user === '*') {
    throw new InvalidUserNameError(`invalid user name ${JSON.stringify(user)}`);
  }
}

export class JunctionAuth implements AuthPlugin {
  readonly anonymousAllowed: boolean;
  private users = new Map<string, UserRecord>();
  /** Successful verifications: HMAC(user, secret) -> the hash they were checked against. */
  private readonly verified = new Map<string, string>();
  private readonly cacheKey = randomBytes(32);
  private dummyHash?: Promise<string>;
  /** Fake SCRAM credentials handed out for unknown names: their proofs are always refused. */
  private readonly fakes = new WeakSet<ScramCredentials>();
  /** A stored-entry-shaped text per mechanism, parsed for names without one (same work as a real entry). */
  private readonly dummyScram: Partial<Record<ScramMechanism, string>> = {};
  private readonly failures: LoginFailures;
  /** Refused logins per protocol (for /metrics). */
  private readonly refusedByProtocol = new Map<string, number>();
  readonly usersConfigured: boolean;
  readonly register?: (user: string, password: string) => Promise<void>;

  constructor(
    private readonly opts: Omit<AuthOptions, 'users' | 'registrations' | 'secrets'> & { users: UserStore | null; registrations: UserStore | null },
    private readonly secret: Buffer,
  ) {
    this.anonymousAllowed = opts.config.allowAnonymous;
    this.usersConfigured = opts.users !== null;
    this.failures = new LoginFailures(opts.config.maxFailuresPerMinute ?? DEFAULT_MAX_FAILURES_PER_MINUTE);
    if (opts.registrations) this.register = (u, p) => this.registerUser(u, p);
  }

  /** Reads every user from the stores (again): `junction passwd` edits apply after reload. */
  async reload(): Promise<void> {
    const users = new Map<string, UserRecord>();
    if (this.opts.registrations && this.opts.registrations !== this.opts.users) {
      for (const [u, r] of await this.opts.registrations.load()) users.set(u, r);
    }
    if (this.opts.users) for (const [u, r] of await this.opts.users.load()) users.set(u, r);
    this.users = users;
    this.verified.clear();
  }

  failureCounts(): ReadonlyMap<string, number> {
    return this.refusedByProtocol;
  }

  private countFailure(protocol: string): void {
    this.refusedByProtocol.set(protocol, (this.refusedByProtocol.get(protocol) ?? 0) + 1);
  }

  get userCount(): number {
    return this.users.size;
  }

  async authenticate(protocol: string, user: string | undefined, secret: string | Buffer | undefined, remote?: string): Promise<Principal | null> {
    if (user === undefined || user === '') return this.anonymousAllowed ? ANONYMOUS : null;
    if (this.refusedAddress(protocol, user, remote)) return null;
    const record = this.users.get(user);
    if (!record) {
      // Same work as a real check, so timing does not tell which names exist.
      await verifyPassword(secret ?? '', await (this.dummyHash ??= hashPassword(randomBytes(16))));
      if (!this.anonymousAllowed) return this.failed(protocol, user, remote, 'unknown user');
      // No such user, anonymous allowed: an anonymous principal that carries the name it gave.
      return { user, anonymous: true };
    }
    if (secret === undefined) return this.failed(protocol, user, remote, 'no password');
    const key = createHmac('sha256', this.cacheKey).update(user).update('\0').update(secret).digest('base64');
    if (this.verified.get(key) === record.password) return { user, anonymous: false };
    if (!(await verifyPassword(secret, record.password))) return this.failed(protocol, user, remote, 'wrong password');
    if (this.verified.size >= MAX_CACHE) this.verified.delete(this.verified.keys().next().value!);
    this.verified.set(key, record.password);
    return { user, anonymous: false };
  }

  /**
   * Publish, subscribe and consume follow the rules (no rules: allowed). `admin` needs the user's
   * admin flag or a rule; with no rules it is open only in dev mode (no users configured) and
   * only to anonymous clients; registered accounts get it only from a rule that names them.
   */
  authorise(principal: Principal, action: AuthAction, address: string): boolean {
    const rules = this.opts.config.rules;
    if (action !== 'admin') return evaluateRules(rules, principal, action, address);
    const record = principal.anonymous ? undefined : this.users.get(principal.user);
    if (record?.admin) return true;
    if (rules.length === 0) return principal.anonymous && !this.usersConfigured;
    // Not a configured user (a registration, or an account kept by an adapter): named rules only.
    const namedOnly = !principal.anonymous && (!record || record.registered === true);
    return evaluateRules(rules, principal, 'admin', address, namedOnly);
  }

  async scramCredentials(user: string, mechanism: ScramMechanism, remote?: string): Promise<ScramCredentials | null> {
    if (this.refusedAddress(mechanism, user, remote)) return null;
    // Known or not, the same work: derive the fake keys and parse a stored entry (the user's, or a
    // dummy of the same shape), so the time to answer does not tell which names exist.
    const iterations = this.opts.hashOptions?.scramIterations ?? 4096;
    const fake = fakeScramCredentials(this.secret, user, mechanism, iterations);
    const text = this.users.get(user)?.scram?.[mechanism];
    const real = parseScram(text ?? (this.dummyScram[mechanism] ??= formatScram(fakeScramCredentials(this.secret, '\0', mechanism, iterations))), mechanism);
    if (text && real) return real;
    this.fakes.add(fake);
    return fake;
  }

  async verifyScram(
    protocol: string, user: string, mechanism: ScramMechanism, creds: ScramCredentials, authMessage: string, proof: Buffer, remote?: string,
  ): Promise<{ principal: Principal; serverSignature: Buffer } | null> {
    const serverSignature = checkScramProof(mechanism, creds, authMessage, proof);
    if (!serverSignature || this.fakes.has(creds)) return this.failed(protocol, user, remote, this.fakes.has(creds) ? 'unknown user' : 'wrong proof');
    return { principal: { user, anonymous: false }, serverSignature };
  }

  async hasUser(user: string): Promise<boolean> {
    return this.users.has(user);
  }

  /** True (and logged at debug) when `remote` has too many recent failures. */
  private refusedAddress(protocol: string, user: string, remote: string | undefined): boolean {
    if (!this.failures.blocked(remote)) return false;
    this.countFailure(protocol);
    this.opts.log?.debug({ protocol, user, remote }, 'authentication refused: too many failed logins from this address');
    return true;
  }

  private failed(protocol: string, user: string, remote: string | undefined, reason: string): null {
    this.countFailure(protocol);
    this.opts.log?.info({ protocol, user, remote, reason }, 'authentication refused');
    if (this.failures.record(remote)) {
      this.opts.log?.warn(
        { protocol, user, remote, retryAfterMs: this.failures.retryAfterMs(remote!) },
        'too many failed logins from this address: refusing its logins until the minute is over',
      );
    }
    return null;
  }

  private async registerUser(user: string, password: string): Promise<void> {
    checkUserName(user);
    if (this.users.has(user)) throw new UserExistsError(`user ${JSON.stringify(user)} exists`);
    const record: UserRecord = { ...(await createUserRecord(password, this.opts.hashOptions)), registered: true };
    if (this.users.has(user)) throw new UserExistsError(`user ${JSON.stringify(user)} exists`);
    this.users.set(user, record);
    try {
      await this.opts.registrations!.put(user, record);
    } catch (e) {
      this.users.delete(user);
      throw e;
    }
    this.opts.log?.info({ user }, 'user registered');
  }
}

/** Creates the auth plugin and loads its users (a bad users file is a ConfigError). */
export async function createAuthPlugin(opts: AuthOptions): Promise<JunctionAuth> {
  const users = opts.users ?? (opts.config.usersFile ? new FileUserStore(opts.config.usersFile) : null);
  const registrations = opts.registrations ?? users;
  const auth = new JunctionAuth({ ...opts, users, registrations }, await loadServerSecret(opts.secrets));
  await auth.reload();
  for (const store of new Set<UserStore | null>([users, registrations])) {
    store?.onChange?.(() => void auth.reload().catch((err: Error) => opts.log?.warn({ err: err.message }, 'users not reloaded')));
  }
  return auth;
}

export type { Principal, AuthPlugin, AuthAction };
