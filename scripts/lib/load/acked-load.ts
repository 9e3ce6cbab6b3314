/**
 * An acknowledged producer and its reader for one protocol, for fault trials: messages carry
 * unique ids as payloads; an id counts as acknowledged only once the protocol's positive answer
 * arrived (MQTT PUBACK/PUBCOMP, Kafka acks=all response, STOMP RECEIPT, AMQP accepted, XMPP
 * XEP-0198 <a/>). A negative answer counts as refused; a timeout or a lost connection as failed
 * (the message may or may not be stored; it is neither lost nor duplicated when it turns up).
 *
 * Publishing goes on across broker crashes: each load reconnects by itself (through the client
 * library's own reconnect where it has one), always to the endpoints the broker under test names
 * at that moment, so a cluster mode can kill and replace nodes under it.
 */

export type Protocol = 'mqtt' | 'amqp' | 'stomp' | 'xmpp' | 'kafka';

export interface Endpoint {
  host: string;
  port: number;
}

/** Where to connect now, per protocol (a single node: one each; a cluster: every live node). */
export type Endpoints = () => Record<Protocol, Endpoint[]>;

/** A protocol's negative answer to a publish (as opposed to a timeout or a lost connection). */
export class Refusal extends Error {}

export interface LoadOptions {
  /** Unique per trial: queue, topic and account names are derived from it. */
  prefix: string;
  endpoints: Endpoints;
  /** Messages per second this load aims at (all its workers together). */
  rate: number;
  /** Sends in flight at once. */
  window: number;
  /** A send not answered within this is counted as failed (batched sends: the client's own retry bound). */
  sendTimeoutMs: number;
  /**
   * Retries of clients that retry refusals by themselves (kafkajs retries KAFKA_STORAGE_ERROR):
   * few, so a refusal reaches the load instead of being retried away (default: ride out a crash).
   */
  clientRetries?: number;
  /** Replication factor of the Kafka topic (a cluster: 3; default the broker's). */
  kafkaReplicationFactor?: number;
}

export interface ReadResult {
  /** id -> times received */
  counts: Map<string, number>;
  /** Where duplicated ids were read (e.g. partition/offset), when the reader knows. */
  duplicates?: Map<string, string[]>;
}

export interface LoadTally {
  name: string;
  exactlyOnce: boolean;
  attempted: number;
  acknowledged: number;
  refused: number;
  failed: number;
  /** Distinct ids read back (acknowledged or not). */
  received: number;
  /** Acknowledged ids never read back. */
  lost: number;
  /** Ids read back more than once. */
  duplicated: number;
  /** Some lost ids, for the report. */
  lostSample: string[];
  /** Some duplicated ids with where they were read. */
  duplicateSample: string[];
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    p.finally(() => clearTimeout(timer)),
    new Promise<T>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms);
    }),
  ]);
}

/** First endpoint of the protocol that the broker under test names now. */
export function endpointOf(endpoints: Endpoints, protocol: Protocol, attempt = 0): Endpoint {
  const list = endpoints()[protocol];
  if (!list.length) throw new Error(`no ${protocol} endpoint`);
  return list[attempt % list.length];
}

export abstract class AckedLoad {
  abstract readonly name: string;
  /** Duplicates count as a failure only where the protocol promises exactly-once. */
  abstract readonly exactlyOnce: boolean;
  readonly acknowledged = new Set<string>();
  refused = 0;
  failed = 0;
  attempted = 0;
  lastError = '';
  /** Called right after each acknowledgement (a trial can crash the broker at that moment). */
  onAck?: (ids: string[]) => void;
  private running = false;
  private workers: Promise<void>[] = [];
  private seq = 0;

  constructor(protected readonly o: LoadOptions) {}

  /** Creates what the reader needs before any message is sent (subscriptions, queues, accounts). */
  abstract prepare(): Promise<void>;
  /** Resolves when the message is acknowledged; rejects with Refusal on a negative answer. */
  protected abstract send(id: string): Promise<void>;
  /** Reads everything back after the last restart; `expected` are the acknowledged ids. */
  abstract readBack(expected: Set<string>, timeoutMs: number): Promise<ReadResult>;
  /** Closes every client (publisher and reader). */
  abstract close(): Promise<void>;

  /**
   * When set, the load runs one send at a time carrying `window` ids (all acknowledged or none):
   * for clients whose exactly-once breaks under concurrent sends (kafkajs' idempotent producer).
   */
  protected sendBatch?(ids: string[]): Promise<void>;

  /** Starts publishing; keeps going (reconnecting) until stop(). */
  start(): void {
    this.running = true;
    const batched = this.sendBatch !== undefined;
    const workers = batched ? 1 : this.o.window;
    const perSend = batched ? this.o.window : 1;
    const gapMs = (1000 * workers * perSend) / Math.max(1, this.o.rate);
    for (let w = 0; w < workers; w++) {
      this.workers.push((async () => {
        await sleep(Math.random() * gapMs);
        while (this.running) {
          const ids = Array.from({ length: perSend }, () => `${this.o.prefix}-${this.name}-${++this.seq}`);
          const began = Date.now();
          this.attempted += ids.length;
          try {
            // A batched send is never abandoned while it may still be retried (no overlap), so its
            // bound is the client's own retries.
            await (batched ? this.sendBatch!(ids) : withTimeout(this.send(ids[0]), this.o.sendTimeoutMs, `${this.name} send`));
            for (const id of ids) this.acknowledged.add(id);
            this.onAck?.(ids);
          } catch (err) {
            if (err instanceof Refusal) this.refused += ids.length;
            else this.failed += ids.length;
            this.lastError = (err as Error).message;
            await sleep(100);
          }
          const rest = gapMs - (Date.now() - began);
          if (rest > 0) await sleep(rest);
        }
      })());
    }
  }

  /** Stops publishing and waits for the sends in flight (each bounded by sendTimeoutMs). */
  async stop(): Promise<void> {
    this.running = false;
    await Promise.all(this.workers);
    this.workers = [];
  }

  tally(read: ReadResult): LoadTally {
    let lost = 0;
    const lostSample: string[] = [];
    for (const id of this.acknowledged) {
      if (!read.counts.has(id)) {
        lost++;
        if (lostSample.length < 5) lostSample.push(id);
      }
    }
    let duplicated = 0;
    const duplicateSample: string[] = [];
    for (const [id, n] of read.counts) {
      if (n <= 1) continue;
      duplicated++;
      if (duplicateSample.length < 5) duplicateSample.push(`${id}${read.duplicates?.has(id) ? ` at ${read.duplicates.get(id)!.join(' and ')}` : ''}${this.acknowledged.has(id) ? '' : ' (never acknowledged)'}`);
    }
    return {
      name: this.name, exactlyOnce: this.exactlyOnce, attempted: this.attempted, acknowledged: this.acknowledged.size,
      refused: this.refused, failed: this.failed, received: read.counts.size, lost, duplicated, lostSample, duplicateSample,
    };
  }
}

/**
 * Collects ids until every expected one arrived and nothing new came for `settleMs`, or nothing
 * came for `idleMs`, or `timeoutMs` passed. `count` is fed by the caller's message handler.
 */
export class ReadBack {
  readonly counts = new Map<string, number>();
  private readonly where = new Map<string, string>();
  readonly duplicates = new Map<string, string[]>();
  private lastAt = Date.now();
  private missing: Set<string>;

  constructor(expected: Set<string>, private readonly prefix: string) {
    this.missing = new Set(expected);
  }

  /** `where` (a partition and offset, a delivery tag) is kept to describe duplicates. */
  count(id: string, where?: string): void {
    if (!id.startsWith(this.prefix)) return;
    const n = (this.counts.get(id) ?? 0) + 1;
    this.counts.set(id, n);
    if (where !== undefined) {
      if (n === 1) this.where.set(id, where);
      else this.duplicates.set(id, [...(this.duplicates.get(id) ?? [this.where.get(id) ?? '?']), where]);
    }
    this.missing.delete(id);
    this.lastAt = Date.now();
  }

  async done(timeoutMs: number, idleMs = 3000, settleMs = 500): Promise<ReadResult> {
    const deadline = Date.now() + timeoutMs;
    this.lastAt = Date.now();
    for (;;) {
      const quiet = Date.now() - this.lastAt;
      if (this.missing.size === 0 && quiet >= settleMs) break;
      if (quiet >= idleMs || Date.now() > deadline) break;
      await sleep(50);
    }
    return { counts: this.counts, duplicates: this.duplicates };
  }
}
