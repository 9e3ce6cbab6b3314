/**
 * A local transaction (STOMP BEGIN/COMMIT/ABORT, AMQP coordinator): publishes, sends and
 * settlements are staged and then applied together, their journal entries written as one atomic
 * group. Rolling back discards them; staged acks leave their deliveries unacknowledged, so the
 * client may settle them again. Stream appends commit with the group but are not atomic with it.
 */
import type { Broker } from './broker.js';
import type { Message } from './message.js';
import type { Consumer } from './queue-consumer.js';
import type { NackOptions } from './queue-types.js';

type Op =
  | { kind: 'publish'; message: Message }
  | { kind: 'send'; queue: string; message: Message }
  | { kind: 'ack'; consumer: Consumer; tag: number }
  | { kind: 'nack'; consumer: Consumer; tag: number; options: NackOptions };

export class TransactionStateError extends Error {
  override readonly name = 'TransactionStateError';
}

/** Bound on staged operations, so one transaction cannot hold unbounded memory. */
export const MAX_TRANSACTION_OPS = 100_000;

export class Transaction {
  private ops: Op[] = [];
  private state: 'open' | 'committed' | 'rolled-back' = 'open';

  constructor(private readonly broker: Broker) {}

  get size(): number {
    return this.ops.length;
  }

  publish(message: Message): void {
    this.stage({ kind: 'publish', message });
  }

  send(queue: string, message: Message): void {
    this.stage({ kind: 'send', queue, message });
  }

  ack(consumer: Consumer, tag: number): void {
    this.stage({ kind: 'ack', consumer, tag });
  }

  nack(consumer: Consumer, tag: number, options: NackOptions): void {
    this.stage({ kind: 'nack', consumer, tag, options });
  }

  /** Applies every staged operation; resolves when all of it is stored. */
  commit(): Promise<void> {
    this.finish('committed');
    const ops = this.ops;
    this.ops = [];
    return this.broker.commitTransaction(() => ops.map((op) => {
      try {
        switch (op.kind) {
          case 'publish': return this.broker.publish(op.message);
          case 'send': return this.broker.sendToQueue(op.queue, op.message);
          case 'ack': return op.consumer.ack(op.tag);
          case 'nack': return op.consumer.nack(op.tag, op.options);
        }
      } catch (err) {
        return Promise.reject(err);
      }
    }));
  }

  rollback(): void {
    this.finish('rolled-back');
    this.ops = [];
  }

  private stage(op: Op): void {
    if (this.state !== 'open') throw new TransactionStateError(`transaction is already ${this.state}`);
    if (this.ops.length >= MAX_TRANSACTION_OPS) throw new TransactionStateError(`transaction holds more than ${MAX_TRANSACTION_OPS} operations`);
    this.ops.push(op);
  }

  private finish(next: 'committed' | 'rolled-back'): void {
    if (this.state !== 'open') throw new TransactionStateError(`transaction is already ${this.state}`);
    this.state = next;
  }
}
