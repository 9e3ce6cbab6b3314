/**
 * Namespaced, durable key/value metadata kept by the core for everyone: queue and stream
 * definitions, bindings, MQTT sessions, retained messages, XMPP rosters, group offsets. Held in
 * memory, written through the store's journal (so 100,000 keys share a few segment files).
 */
import type { JournalEntry, RemoteChange, Store } from './store.js';

type ChangeListener = (key: string, value: Buffer | undefined) => void;

export class MetadataStore {
  private readonly data: Map<string, Map<string, Buffer>>;
  private readonly listeners = new Map<string, ChangeListener[]>();

  constructor(private readonly store: Store, recovered: Map<string, Map<string, Buffer>>) {
    this.data = recovered;
    store.onRemoteChange?.((c) => this.applyRemote(c));
  }

  /** Calls `listener` when another node of a cluster changes a key of `ns` (never for this node's own writes). */
  onRemoteChange(ns: string, listener: ChangeListener): void {
    const list = this.listeners.get(ns);
    if (list) list.push(listener);
    else this.listeners.set(ns, [listener]);
  }

  /**
   * Resolves once what other nodes of a cluster wrote before the call is in this copy (read your
   * peers' writes: a client that moves between nodes finds its state). At once on a single node.
   */
  sync(): Promise<void> {
    return this.store.syncShared?.() ?? Promise.resolve();
  }

  get(ns: string, key: string): Buffer | undefined {
    return this.data.get(ns)?.get(key);
  }

  getJson<T>(ns: string, key: string): T | undefined {
    const v = this.get(ns, key);
    return v === undefined ? undefined : (JSON.parse(v.toString('utf8')) as T);
  }

  has(ns: string, key: string): boolean {
    return this.data.get(ns)?.has(key) ?? false;
  }

  /** Every key and value of a namespace (live view; do not mutate). */
  entries(ns: string): ReadonlyMap<string, Buffer> {
    return this.data.get(ns) ?? new Map();
  }

  put(ns: string, key: string, value: Buffer): Promise<void> {
    this.apply(ns, key, value);
    return this.store.journal([{ kind: 'put', ns, key, value }]);
  }

  putJson(ns: string, key: string, value: unknown): Promise<void> {
    return this.put(ns, key, Buffer.from(JSON.stringify(value), 'utf8'));
  }

  delete(ns: string, key: string): Promise<void> {
    if (!this.has(ns, key)) return Promise.resolve();
    this.apply(ns, key, undefined);
    return this.store.journal([{ kind: 'del', ns, key }]);
  }

  /** Applies several changes as one atomic journal group. */
  batch(changes: Array<{ ns: string; key: string; value: Buffer | undefined }>): Promise<void> {
    const entries: JournalEntry[] = changes.map((c) => {
      this.apply(c.ns, c.key, c.value);
      return c.value === undefined ? { kind: 'del', ns: c.ns, key: c.key } : { kind: 'put', ns: c.ns, key: c.key, value: c.value };
    });
    return this.store.journal(entries);
  }

  private applyRemote({ ns, key, value }: RemoteChange): void {
    const before = this.get(ns, key);
    if (before === value || (before && value && before.equals(value))) return;
    this.apply(ns, key, value);
    for (const l of this.listeners.get(ns) ?? []) l(key, value);
  }

  private apply(ns: string, key: string, value: Buffer | undefined): void {
    let m = this.data.get(ns);
    if (!m) this.data.set(ns, (m = new Map()));
    if (value === undefined) m.delete(key);
    else m.set(key, value);
  }
}
