/**
 * The auth plugin: authentication against the users file (scrypt hashes, SCRAM keys), anonymous
 * access, and ordered per-address rules. See docs/configuration.md (auth) for the rules.
 */
import { createHmac, randomBytes } from 'node:crypto';
import type { AuthConfig } from '../../config/schema.js';
import type { AuthAction, AuthPlugin, Logger, Principal } from '../../core/adapter.js';
import {
  createUserRecord,
  hashPassword,
  parseScram,
  verifyPassword,
  type HashOptions,
  type ScramCredentials,
  type ScramMechanism,
  type UserRecord,
} from './passwords.js';
import { ANONYMOUS_USER, evaluateRules } from './rules.js';
import { FileUserStore, type UserStore } from './user-store.js';

export * from './passwords.js';
export * from './rules.js';
export * from './user-store.js';

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
}

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
  readonly register?: (user: string, password: string) => Promise<void>;

  constructor(private readonly opts: Omit<AuthOptions, 'users' | 'registrations'> & { users: UserStore | null; registrations: UserStore | null }) {
    this.anonymousAllowed = opts.config.allowAnonymous;
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

  get userCount(): number {
    return this.users.size;
  }

  async authenticate(protocol: string, user: string | undefined, secret: string | Buffer | undefined): Promise<Principal | null> {
    if (user === undefined || user === '') return this.anonymousAllowed ? ANONYMOUS : null;
    const record = this.users.get(user);
    if (!record) {
      // Same work as a real check, so timing does not tell which names exist.
      await verifyPassword(secret ?? '', await (this.dummyHash ??= hashPassword(randomBytes(16))));
      if (!this.anonymousAllowed) {
        this.opts.log?.debug({ protocol, user }, 'authentication refused: unknown user');
        return null;
      }
      // No such user, anonymous allowed: an anonymous principal that carries the name it gave.
      return { user, anonymous: true };
    }
    if (secret === undefined) return null;
    const key = createHmac('sha256', this.cacheKey).update(user).update('\0').update(secret).digest('base64');
    if (this.verified.get(key) === record.password) return { user, anonymous: false };
    if (!(await verifyPassword(secret, record.password))) {
      this.opts.log?.info({ protocol, user }, 'authentication refused: wrong password');
      return null;
    }
    if (this.verified.size >= MAX_CACHE) this.verified.delete(this.verified.keys().next().value!);
    this.verified.set(key, record.password);
    return { user, anonymous: false };
  }

  authorise(principal: Principal, action: AuthAction, address: string): boolean {
    return evaluateRules(this.opts.config.rules, principal, action, address);
  }

  async scramCredentials(user: string, mechanism: ScramMechanism): Promise<ScramCredentials | null> {
    const text = this.users.get(user)?.scram?.[mechanism];
    return text ? parseScram(text, mechanism) : null;
  }

  private async registerUser(user: string, password: string): Promise<void> {
    checkUserName(user);
    if (this.users.has(user)) throw new UserExistsError(`user ${JSON.stringify(user)} exists`);
    const record = await createUserRecord(password, this.opts.hashOptions);
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
  const auth = new JunctionAuth({ ...opts, users, registrations });
  await auth.reload();
  return auth;
}

export type { Principal, AuthPlugin, AuthAction };
