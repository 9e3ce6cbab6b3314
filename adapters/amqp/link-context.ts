/**
 * What link handlers (producer, consumer, coordinator) see of their connection: this interface,
 * not the AmqpConnection class, so handlers and connection import no values of each other.
 */
import type { AuthAction, Logger, Principal } from '../../core/adapter.js';
import type { ClientConnection } from '../../core/connection-registry.js';
import type { Consumer } from '../../core/queue-consumer.js';
import type { Transaction } from '../../core/transaction.js';
import type { LinkTable } from './links.js';
import type { IncomingLink } from './incoming-link.js';
import type { RheaEngine } from './rhea-internals.js';
import type { AmqpRuntime } from './runtime.js';
import type { ParsedOutcome } from './states.js';

export interface TxnState {
  id: Buffer;
  txn: Transaction;
  /** Deliveries acked/nacked in the transaction (settled for the client): released on rollback. */
  settledAcks: Array<{ consumer: Consumer; tag: number }>;
}

export interface LinkContext {
  /** Owner id for exclusive queues and no-local subscriptions. */
  readonly id: string;
  readonly rt: AmqpRuntime;
  readonly log: Logger;
  readonly engine: RheaEngine;
  readonly links: LinkTable;
  readonly client: ClientConnection;
  readonly principal: Principal | null;
  readonly remoteContainerId: string;
  readonly closed: boolean;
  /** The socket is backed up: consumers pause. */
  readonly blocked: boolean;
  readonly txns: Map<string, TxnState>;
  readonly tempQueues: Set<string>;
  /** Credit given to the peer's producer links plus their publishes not yet resolved. */
  publishCommitted: number;
  /** Producer links that wanted credit beyond the connection's bound. */
  readonly starved: Set<IncomingLink>;
  /** A promise of ours whose failure would be a bug: the connection closes with amqp:internal-error. */
  track(p: Promise<unknown>): void;
  /** A core promise nobody waits for: a failure is logged, never unhandled. */
  quiet(p: Promise<unknown>): void;
  authorise(action: AuthAction, address: string): boolean;
  newTempQueueName(): string;
  /** `n` units of producer credit came back (a publish settled, credit withdrawn). */
  creditReturned(n: number): void;
  /** A link handler settled (or dropped) a transfer it was handed. */
  incomingSettled(): void;
  /** An outgoing link handed `n` bytes to rhea: past the high-water mark, consumers pause. */
  handedOut(n: number): void;
  /** Stages a transactional disposition; false when the transaction is unknown. */
  stageDisposition(consumer: Consumer, tag: number, txnId: Buffer, outcome: ParsedOutcome | null): boolean;
}
