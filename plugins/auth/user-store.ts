/**
 * The UserStore seam: where user credentials live. The auth plugin reads every user at start and
 * writes users added at run time (XMPP in-band registration) through it, so they persist.
 *
 * - FileUserStore: the YAML users file (`auth.usersFile`), also written by `junction passwd`.
 * - MetadataUserStore: the broker's own metadata (journaled in the store, so in --data-dir);
 *   used for run-time registrations when no users file is configured.
 * - MemoryUserStore: tests and embedding.
 */
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import { ConfigError } from '../../config/errors.js';
import { parseScram, parseScryptHash, SCRAM_MECHANISMS, type UserRecord } from './passwords.js';

export interface UserStore {
  /** Every user. */
  load(): Promise<Map<string, UserRecord>>;
  /** Adds or replaces one user, durably. */
  put(user: string, record: UserRecord): Promise<void>;
  delete(user: string): Promise<void>;
  /** Calls `listener` when users change outside this process (another node of a cluster). */
  onChange?(listener: () => void): void;
}

/** Throws unless `record` is a well-formed users-file entry. */
export function checkUserRecord(user: string, record: unknown, where: string): UserRecord {
  const r = record as UserRecord;
  if (typeof r !== 'object' || r === null || typeof r.password !== 'string' || !parseScryptHash(r.password)) {
    throw new ConfigError(`${where}: user "${user}" needs password: scrypt$N$r$p$salt$hash (write it with junction passwd)`, 'auth.usersFile');
  }
  for (const m of SCRAM_MECHANISMS) {
    const s = r.scram?.[m];
    if (s !== undefined && (typeof s !== 'string' || !parseScram(s, m))) {
      throw new ConfigError(`${where}: user "${user}" has a malformed scram.${m} (iterations$salt$storedKey$serverKey)`, 'auth.usersFile');
    }
  }
  for (const flag of ['admin', 'registered'] as const) {
    if (r[flag] !== undefined && typeof r[flag] !== 'boolean') {
      throw new ConfigError(`${where}: user "${user}" has ${flag}: ${JSON.stringify(r[flag])} (true or false)`, 'auth.usersFile');
    }
  }
  return {
    password: r.password,
    ...(r.scram ? { scram: { ...r.scram } } : {}),
    ...(r.admin ? { admin: true } : {}),
    ...(r.registered ? { registered: true } : {}),
  };
}

export class MemoryUserStore implements UserStore {
  private readonly users = new Map<string, UserRecord>();
  constructor(initial?: Record<string, UserRecord>) {
    for (const [u, r] of Object.entries(initial ?? {})) this.users.set(u, r);
  }
  async load() {
    return new Map(this.users);
  }
  async put(user: string, record: UserRecord) {
    this.users.set(user, record);
  }
  async delete(user: string) {
    this.users.delete(user);
  }
}

/**
 * The users file: `users: { NAME: { password, scram: { SCRAM-SHA-256: ... } } }`. Writes replace
 * the file atomically (temporary file, then rename; mode 0600) and are serialised.
 */
export class FileUserStore implements UserStore {
  private chain: Promise<unknown> = Promise.resolve();

  constructor(
    readonly path: string,
    /** Missing file = no users (for `junction passwd` creating it); otherwise missing is an error. */
    private readonly createIfMissing = false,
  ) {}

  async load(): Promise<Map<string, UserRecord>> {
    let text: string;
    try {
      text = await readFile(this.path, 'utf8');
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' && this.createIfMissing) return new Map();
      throw new ConfigError(`auth.usersFile: cannot read ${this.path} (${code ?? String(e)})`, 'auth.usersFile');
    }
    let doc: unknown;
    try {
      doc = parseYaml(text);
    } catch (e) {
      throw new ConfigError(`auth.usersFile: ${this.path} is not valid YAML: ${(e as Error).message.split('\n')[0]}`, 'auth.usersFile');
    }
    const users = (doc as { users?: unknown } | null)?.users ?? {};
    if (typeof users !== 'object' || users === null || Array.isArray(users)) {
      throw new ConfigError(`auth.usersFile: ${this.path} must hold "users:" mapping names to entries`, 'auth.usersFile');
    }
    const out = new Map<string, UserRecord>();
    for (const [u, r] of Object.entries(users)) out.set(u, checkUserRecord(u, r, `auth.usersFile ${this.path}`));
    return out;
  }

  put(user: string, record: UserRecord): Promise<void> {
    return this.update((users) => users.set(user, record));
  }

  delete(user: string): Promise<void> {
    return this.update((users) => users.delete(user));
  }

  private update(change: (users: Map<string, UserRecord>) => void): Promise<void> {
    const next = this.chain.then(async () => {
      const users = await new FileUserStore(this.path, true).load();
      change(users);
      const doc = { users: Object.fromEntries([...users].sort(([a], [b]) => a.localeCompare(b))) };
      const text = `# Junction users (junction passwd FILE USER). Passwords are scrypt hashes; SCRAM keys derive from them.\n${stringifyYaml(doc)}`;
      await mkdir(dirname(this.path), { recursive: true });
      const tmp = `${this.path}.${process.pid}.tmp`;
      await writeFile(tmp, text, { mode: 0o600 });
      await rename(tmp, this.path);
    });
    this.chain = next.catch(() => undefined);
    return next;
  }
}

/** The subset of the core MetadataStore this store uses. */
export interface MetadataLike {
  entries(ns: string): ReadonlyMap<string, Buffer>;
  put(ns: string, key: string, value: Buffer): Promise<void>;
  delete(ns: string, key: string): Promise<void>;
  onRemoteChange?(ns: string, listener: (key: string, value: Buffer | undefined) => void): void;
}

/** Users kept in the broker's metadata (namespace `auth.user`), journaled like any definition. */
export class MetadataUserStore implements UserStore {
  static readonly NS = 'auth.user';
  constructor(private readonly metadata: () => MetadataLike) {}

  async load(): Promise<Map<string, UserRecord>> {
    const out = new Map<string, UserRecord>();
    for (const [u, v] of this.metadata().entries(MetadataUserStore.NS)) {
      out.set(u, checkUserRecord(u, JSON.parse(v.toString('utf8')), 'broker metadata'));
    }
    return out;
  }

  put(user: string, record: UserRecord): Promise<void> {
    return this.metadata().put(MetadataUserStore.NS, user, Buffer.from(JSON.stringify(record), 'utf8'));
  }

  delete(user: string): Promise<void> {
    return this.metadata().delete(MetadataUserStore.NS, user);
  }

  /** In a cluster the namespace is shared: a user registered on another node arrives here. */
  onChange(listener: () => void): void {
    this.metadata().onRemoteChange?.(MetadataUserStore.NS, () => listener());
  }
}
