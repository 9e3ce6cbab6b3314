/**
 * Accounts as the XMPP adapter sees them: password and SCRAM checks through the auth plugin, and
 * in-band registration (XEP-0077) through `auth.register` when the plugin offers it. When it does
 * not, registered accounts are kept in the core's metadata (namespace `xmpp-user`) as SCRAM keys
 * derived here (no password is stored), and checked alongside the plugin's users.
 */
import { createHash, createHmac, pbkdf2 as pbkdf2Cb, randomBytes, timingSafeEqual } from 'node:crypto';
import { promisify } from 'node:util';
import type { AuthPlugin, Principal, ScramCredentials } from '../../core/adapter.js';
import type { MetadataStore } from '../../core/metadata.js';
import { normaliseLocal } from './jid.js';

const pbkdf2 = promisify(pbkdf2Cb);

export type ScramMech = 'SCRAM-SHA-1' | 'SCRAM-SHA-256';
export const SCRAM_HASH: Record<ScramMech, { name: string; len: number }> = {
  'SCRAM-SHA-1': { name: 'sha1', len: 20 },
  'SCRAM-SHA-256': { name: 'sha256', len: 32 },
};

export const NS_USER = 'xmpp-user';

export class AccountExistsError extends Error {
  override readonly name = 'AccountExistsError';
}
export class InvalidAccountError extends Error {
  override readonly name = 'InvalidAccountError';
}

interface StoredUser {
  scram: Record<ScramMech, { i: number; s: string; k: string; v: string }>;
}

export async function deriveScramKeys(password: string, mech: ScramMech, iterations = 4096, salt = randomBytes(16)): Promise<ScramCredentials> {
  const { name, len } = SCRAM_HASH[mech];
  const salted = await pbkdf2(Buffer.from(password.normalize('NFKC'), 'utf8'), salt, iterations, len, name);
  const clientKey = createHmac(name, salted).update('Client Key').digest();
  return {
    salt,
    iterations,
    storedKey: createHash(name).update(clientKey).digest(),
    serverKey: createHmac(name, salted).update('Server Key').digest(),
  };
}

export class Accounts {
  private readonly registering = new Set<string>();

  constructor(private readonly auth: AuthPlugin, private readonly metadata: MetadataStore) {}

  /** True when registrations go to the auth plugin (false: kept in metadata `xmpp-user`). */
  get pluginRegisters(): boolean {
    return typeof this.auth.register === 'function';
  }

  get anonymousAllowed(): boolean {
    return this.auth.anonymousAllowed;
  }

  async exists(local: string): Promise<boolean> {
    if (this.metadata.has(NS_USER, local)) return true;
    return (await this.auth.scramCredentials(local, 'SCRAM-SHA-256')) !== null
      || (await this.auth.scramCredentials(local, 'SCRAM-SHA-1')) !== null;
  }

  /** Registers an account. Throws AccountExistsError or InvalidAccountError. */
  async register(user: string, password: string): Promise<string> {
    const local = normaliseLocal(user);
    if (!local) throw new InvalidAccountError('the user name is not a valid XMPP local part');
    if (password.length === 0 || password.length > 1024) throw new InvalidAccountError('the password must have 1 to 1024 characters');
    if (this.registering.has(local) || await this.exists(local)) throw new AccountExistsError(`${local} exists`);
    this.registering.add(local);
    try {
      if (this.auth.register) {
        try {
          await this.auth.register(local, password);
        } catch (e) {
          const n = (e as Error).name;
          if (n === 'UserExistsError') throw new AccountExistsError((e as Error).message);
          if (n === 'InvalidUserNameError') throw new InvalidAccountError((e as Error).message);
          throw e;
        }
      } else {
        const scram = {} as StoredUser['scram'];
        for (const m of Object.keys(SCRAM_HASH) as ScramMech[]) {
          const c = await deriveScramKeys(password, m);
          scram[m] = { i: c.iterations, s: c.salt.toString('base64'), k: c.storedKey.toString('base64'), v: c.serverKey.toString('base64') };
        }
        await this.metadata.putJson(NS_USER, local, { scram } satisfies StoredUser);
      }
    } finally {
      this.registering.delete(local);
    }
    return local;
  }

  /** SASL PLAIN. A name the plugin does not know (which it may let in as anonymous) is refused. */
  async checkPassword(user: string, password: string): Promise<Principal | null> {
    const stored = this.metadata.getJson<StoredUser>(NS_USER, user);
    if (stored) {
      const k = stored.scram['SCRAM-SHA-256'];
      const c = await deriveScramKeys(password, 'SCRAM-SHA-256', k.i, Buffer.from(k.s, 'base64'));
      return timingSafeEqual(c.storedKey, Buffer.from(k.k, 'base64')) ? { user, anonymous: false } : null;
    }
    const p = await this.auth.authenticate('xmpp', user, password);
    if (!p || p.anonymous) return null;
    return p;
  }

  async scramCredentials(user: string, mech: ScramMech): Promise<ScramCredentials | null> {
    const stored = this.metadata.getJson<StoredUser>(NS_USER, user);
    if (stored) {
      const k = stored.scram[mech];
      return { iterations: k.i, salt: Buffer.from(k.s, 'base64'), storedKey: Buffer.from(k.k, 'base64'), serverKey: Buffer.from(k.v, 'base64') };
    }
    return this.auth.scramCredentials(user, mech);
  }

  anonymousPrincipal(): Promise<Principal | null> {
    return this.auth.authenticate('xmpp', undefined, undefined);
  }
}
