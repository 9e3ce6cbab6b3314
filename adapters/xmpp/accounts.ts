/**
 * Accounts as the XMPP adapter sees them: password and SCRAM checks through the auth plugin, and
 * in-band registration (XEP-0077) through `auth.register`. Registration is off when the plugin
 * cannot register, and by default when users are configured or anonymous access is off (see
 * registrationEnabled). Accounts that older versions kept in the core's metadata (namespace
 * `xmpp-user`, SCRAM keys only) still log in, under the same failed-login limit as every other
 * account: their logins ask the plugin first whether the address is refused, and their proofs (a
 * PLAIN password is turned into one) are checked by the plugin, which counts the failures.
 */
import { createHmac, pbkdf2 as pbkdf2Cb, randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import type { AuthPlugin, Principal, SaslCredentials, ScramCredentials, ScramMechanismName } from '../../core/adapter.js';
import type { MetadataStore } from '../../core/metadata.js';
import { normaliseLocal } from './jid.js';

const pbkdf2 = promisify(pbkdf2Cb);

export const NS_USER = 'xmpp-user';

export class AccountExistsError extends Error {
  override readonly name = 'AccountExistsError';
}
export class InvalidAccountError extends Error {
  override readonly name = 'InvalidAccountError';
}

/** Older versions kept SCRAM-SHA-1 and SCRAM-SHA-256 keys only. */
interface StoredUser {
  scram: Partial<Record<ScramMechanismName, { i: number; s: string; k: string; v: string }>>;
}

/** The SCRAM-SHA-256 client proof of RFC 5802 for `password` against `creds` and `authMessage`. */
async function scramProof(password: string, creds: ScramCredentials, authMessage: string): Promise<Buffer> {
  const salted = await pbkdf2(Buffer.from(password.normalize('NFKC'), 'utf8'), creds.salt, creds.iterations, 32, 'sha256');
  const clientKey = createHmac('sha256', salted).update('Client Key').digest();
  const signature = createHmac('sha256', creds.storedKey).update(authMessage).digest();
  for (let i = 0; i < 32; i++) clientKey[i] ^= signature[i];
  return clientKey;
}

/** The SASL service checks XMPP logins here (see the file comment). */
export class Accounts implements SaslCredentials {
  private readonly registering = new Set<string>();

  constructor(private readonly auth: AuthPlugin, private readonly metadata: MetadataStore) {}

  /**
   * Whether in-band registration is offered: never without the plugin's register(); as
   * configured when `xmpp.registration` is set; otherwise only in dev mode (anonymous access
   * allowed and no users configured), so nobody can add accounts to a users file uninvited.
   */
  registrationEnabled(configured: boolean | undefined): boolean {
    if (typeof this.auth.register !== 'function') return false;
    if (configured !== undefined) return configured;
    return this.auth.anonymousAllowed && this.auth.usersConfigured !== true;
  }

  get anonymousAllowed(): boolean {
    return this.auth.anonymousAllowed;
  }

  async exists(local: string): Promise<boolean> {
    if (this.metadata.has(NS_USER, local)) return true;
    if (this.auth.hasUser) return this.auth.hasUser(local);
    return (await this.auth.scramCredentials(local, 'SCRAM-SHA-256')) !== null;
  }

  /** Registers an account through the auth plugin. Throws AccountExistsError or InvalidAccountError. */
  async register(user: string, password: string): Promise<string> {
    const local = normaliseLocal(user);
    if (!local) throw new InvalidAccountError('the user name is not a valid XMPP local part');
    if (password.length === 0 || password.length > 1024) throw new InvalidAccountError('the password must have 1 to 1024 characters');
    if (!this.auth.register) throw new InvalidAccountError('registration is not available');
    if (this.registering.has(local) || this.metadata.has(NS_USER, local)) throw new AccountExistsError(`${local} exists`);
    this.registering.add(local);
    try {
      await this.auth.register(local, password);
    } catch (e) {
      const n = (e as Error).name;
      if (n === 'UserExistsError') throw new AccountExistsError((e as Error).message);
      if (n === 'InvalidUserNameError') throw new InvalidAccountError((e as Error).message);
      throw e;
    } finally {
      this.registering.delete(local);
    }
    return local;
  }

  /** The keys of an account kept in `xmpp-user` metadata by older versions, if `user` is one. */
  private legacyCredentials(user: string, mech: ScramMechanismName): ScramCredentials | null {
    const k = this.metadata.getJson<StoredUser>(NS_USER, user)?.scram?.[mech];
    if (!k) return null;
    return { iterations: k.i, salt: Buffer.from(k.s, 'base64'), storedKey: Buffer.from(k.k, 'base64'), serverKey: Buffer.from(k.v, 'base64') };
  }

  /**
   * False while the plugin refuses `remote` for too many failed logins: its scramCredentials()
   * answers null then and only then (a name it does not know gets fake keys).
   */
  private async addressAllowed(user: string, mech: ScramMechanismName, remote?: string): Promise<boolean> {
    return (await this.auth.scramCredentials(user, mech, remote)) !== null;
  }

  /** SASL PLAIN. A name the plugin does not know (which it may let in as anonymous) is refused. */
  async checkPassword(user: string, password: string, remote?: string): Promise<Principal | null> {
    const legacy = this.legacyCredentials(user, 'SCRAM-SHA-256');
    if (legacy) {
      if (!(await this.addressAllowed(user, 'SCRAM-SHA-256', remote))) return null;
      // The password becomes the SCRAM proof it would give, checked (and a failure counted) by the plugin.
      const authMessage = `plain,${randomBytes(16).toString('base64')}`;
      const proof = await scramProof(password, legacy, authMessage);
      const ok = await this.auth.verifyScram('xmpp', user, 'SCRAM-SHA-256', legacy, authMessage, proof, remote);
      return ok ? ok.principal : null;
    }
    const p = await this.auth.authenticate('xmpp', user, password, remote);
    if (!p || p.anonymous) return null;
    return p;
  }

  /**
   * Keys to challenge with: an `xmpp-user` account's, else the plugin's (fake ones for unknown
   * names); null when the plugin refuses `remote` for too many failed logins.
   */
  async scramCredentials(user: string, mech: ScramMechanismName, remote?: string): Promise<ScramCredentials | null> {
    const legacy = this.legacyCredentials(user, mech);
    if (legacy) return (await this.addressAllowed(user, mech, remote)) ? legacy : null;
    return this.auth.scramCredentials(user, mech, remote);
  }

  /** Checks a client proof through the plugin (which counts a failure). */
  verifyScram(
    user: string, mech: ScramMechanismName, creds: ScramCredentials, authMessage: string, proof: Buffer, remote?: string,
  ): Promise<{ principal: Principal; serverSignature: Buffer } | null> {
    return this.auth.verifyScram('xmpp', user, mech, creds, authMessage, proof, remote);
  }
}
