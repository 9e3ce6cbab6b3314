/**
 * The core's Store for a cluster node. Three places:
 * - stream partitions live in JetStream streams (jetstream-partition.ts), replicated R1-R3;
 * - metadata of the shared namespaces (stream definitions, group offsets, topic ids, retained
 *   messages, XMPP accounts and rosters...) lives in the KV bucket `junction-meta` (R3), written
 *   before the write is acknowledged, and every node applies the others' changes as they come;
 * - everything else (this node's own queues and their messages) stays in the node's local store.
 *
 * A value in the bucket starts with a 5-byte tag (0x4A, writer's node id) so a node recognises
 * the echo of its own writes.
 */
import type { JetStreamClient, JetStreamManager } from '@nats-io/jetstream';
import { KvWatchInclude, type KV } from '@nats-io/kv';
import type { Logger } from '../../core/adapter.js';
import { NS_SHARED_QUEUE, NS_SHARED_BINDING } from '../../core/broker.js';
import type { JournalEntry, PartitionStore, RemoteChange, RetentionPolicy, Store, StoreRecovery } from '../../core/store.js';
import { JetStreamPartition, jetStreamConfig } from './jetstream-partition.js';
import { metaKey, parseMetaKey, partitionStreamName, partitionStreamPrefix, partitionSubject } from './names.js';
import type { LatencyHistogram } from '../../core/latency-histogram.js';
import { KvFollower, readBucket, storeRefused } from './resilient.js';
import { StorageFailedError } from '../../core/storage/segment-writer.js';

/** Metadata every node shares; the rest (this node's own queues and bindings, counters) is local. */
export const SHARED_NAMESPACES = new Set([
  'stream', 'group-offset', 'kafka.topic-id', 'retained', 'xmpp-user', 'xmpp-roster', 'xmpp-node', 'xmpp-subscription', 'xmpp-presence', 'auth.user',
  NS_SHARED_QUEUE, NS_SHARED_BINDING, 'mqtt-session', 'mqtt-inflight', 'mqtt-will',
]);

const TAG = 0x4a;
/** How long syncShared() waits for this node's copy of the metadata to catch up. */
const SYNC_TIMEOUT_MS = 5000;

function tagged(nodeId: number, value: Buffer): Buffer {
  const out = Buffer.allocUnsafe(5 + value.length);
  out[0] = TAG;
  out.writeUInt32BE(nodeId, 1);
  value.copy(out, 5);
  return out;
}

function untag(raw: Uint8Array): { origin: number; value: Buffer } {
  const b = Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength);
  if (b.length >= 5 && b[0] === TAG) return { origin: b.readUInt32BE(1), value: Buffer.from(b.subarray(5)) };
  return { origin: -1, value: Buffer.from(b) };
}

export interface ClusterStoreDeps {
  local: Store;
  meta: KV;
  js: JetStreamClient;
  jsm: JetStreamManager;
  nodeId: number;
  log: Logger;
}

export class ClusterStore implements Store {
  private listener: ((change: RemoteChange) => void) | null = null;
  private readonly early: RemoteChange[] = [];
  private follower: KvFollower | null = null;
  readonly partitions = new Map<string, JetStreamPartition>();

  constructor(private readonly deps: ClusterStoreDeps) {}

  get pendingBytes(): number {
    return this.deps.local.pendingBytes;
  }

  get fsyncSeconds(): LatencyHistogram | undefined {
    return this.deps.local.fsyncSeconds;
  }

  async open(): Promise<StoreRecovery> {
    const recovery = await this.deps.local.open();
    this.deps.log.info('cluster: local store opened; loading the shared metadata');
    // Start-up diagnostics: where loading stands, every 10 s until it is done.
    let phase = 'starting the metadata watch';
    const startedAt = Date.now();
    const watchdog = setInterval(() => this.deps.log.warn({ phase, ms: Date.now() - startedAt }, 'cluster: still loading the shared metadata'), 10_000);
    watchdog.unref();
    try {
      return await this.loadShared(recovery, (p) => { phase = p; });
    } finally {
      clearInterval(watchdog);
    }
  }

  private async loadShared(recovery: StoreRecovery, progress: (phase: string) => void): Promise<StoreRecovery> {
    // Watch first, then read every key: a change made meanwhile is seen twice, never missed.
    const follower = new KvFollower(this.deps.meta, {
      include: KvWatchInclude.UpdatesOnly, what: 'metadata', log: this.deps.log,
      onEntry: (e) => {
        const parsed = parseMetaKey(e.key);
        if (!parsed || !SHARED_NAMESPACES.has(parsed.ns)) return;
        const change: RemoteChange = e.operation === 'PUT' ? (() => {
          const { origin, value } = untag(e.value);
          return origin === this.deps.nodeId ? null : { ...parsed, value };
        })() as RemoteChange : { ...parsed, value: undefined };
        if (!change) return;
        if (this.listener) this.listener(change);
        else this.early.push(change);
      },
    });
    await follower.start();
    this.follower = follower;
    for (const ns of SHARED_NAMESPACES) recovery.metadata.delete(ns);
    const entries = await readBucket(this.deps.meta, 'metadata', this.deps.log, progress);
    this.deps.log.info({ keys: entries.length }, 'cluster: shared metadata loaded');
    for (const entry of entries) {
      const parsed = parseMetaKey(entry.key);
      if (!parsed || !SHARED_NAMESPACES.has(parsed.ns)) continue;
      let m = recovery.metadata.get(parsed.ns);
      if (!m) recovery.metadata.set(parsed.ns, (m = new Map()));
      m.set(parsed.key, untag(entry.value).value);
    }
    return recovery;
  }

  onRemoteChange(listener: (change: RemoteChange) => void): void {
    this.listener = listener;
    for (const c of this.early.splice(0)) listener(c);
  }

  async syncShared(): Promise<void> {
    try {
      await this.follower!.caughtUp(SYNC_TIMEOUT_MS);
    } catch (err) {
      throw new StorageFailedError(`cluster metadata not in sync: ${(err as Error).message}`);
    }
  }

  async journal(entries: JournalEntry[]): Promise<void> {
    const local: JournalEntry[] = [];
    const shared: Promise<unknown>[] = [];
    for (const e of entries) {
      if ((e.kind === 'put' || e.kind === 'del') && SHARED_NAMESPACES.has(e.ns)) {
        const key = metaKey(e.ns, e.key);
        // A refused or timed-out write is the store error every adapter answers with its refusal.
        shared.push((e.kind === 'put' ? this.deps.meta.put(key, tagged(this.deps.nodeId, e.value)) : this.deps.meta.delete(key)).then(() => undefined, storeRefused));
      } else {
        local.push(e);
      }
    }
    if (local.length) shared.push(this.deps.local.journal(local));
    await Promise.all(shared);
  }

  async openPartition(stream: string, partition: number, policy: RetentionPolicy): Promise<PartitionStore> {
    const name = partitionStreamName(stream, partition);
    const subject = partitionSubject(stream, partition);
    try {
      await this.deps.jsm.streams.info(name);
    } catch (err) {
      if (!/not found/i.test((err as Error).message)) throw err;
      try {
        await this.deps.jsm.streams.add(jetStreamConfig(name, subject, policy));
      } catch (addErr) {
        // Another node created it at the same moment: fine as long as it now exists.
        await this.deps.jsm.streams.info(name).catch(() => { throw addErr; });
      }
    }
    const p = new JetStreamPartition(this.deps.js, this.deps.jsm, name, subject, this.deps.log);
    this.partitions.set(`${stream}\u0000${partition}`, p);
    return p;
  }

  async deleteStream(stream: string): Promise<void> {
    const prefix = partitionStreamPrefix(stream);
    const names: string[] = [];
    for await (const name of this.deps.jsm.streams.names()) if (name.startsWith(prefix) && /^\d+$/.test(name.slice(prefix.length))) names.push(name);
    for (const name of names) await this.deps.jsm.streams.delete(name).catch(() => undefined);
    for (const key of [...this.partitions.keys()]) if (key.startsWith(`${stream}\u0000`)) this.partitions.delete(key);
  }

  flush(): Promise<void> {
    return this.deps.local.flush();
  }

  async close(): Promise<void> {
    this.follower?.stop();
    await this.deps.local.close();
  }
}
