/**
 * A STOMP browser (`browser:true` on SUBSCRIBE, as ActiveMQ): the messages ready in the queue
 * when it started, in delivery order, taken by nobody; then one MESSAGE with `browser:end` and
 * no body. It stays open (silent) until UNSUBSCRIBE. ACK and NACK of browsed messages change nothing.
 */
import type { QueueBrowser } from '../../core/queue-browser.js';
import { Subscription, type StompTransaction, type SubscriptionInit } from './subscription.js';

export class BrowseSubscription extends Subscription {
  constructor(init: SubscriptionInit, readonly browser: QueueBrowser) {
    super(init);
  }

  /** Starts handing over messages (after the SUBSCRIBE's receipt). */
  start(): void {
    this.browser.pump();
  }

  override pause(): void {
    this.browser.pause();
  }

  override resume(): void {
    this.browser.resume();
  }

  override ack(): Promise<void> {
    return Promise.resolve();
  }

  override nack(): Promise<void> {
    return Promise.resolve();
  }

  override stageAck(_t: StompTransaction): void {}

  override stageNack(_t: StompTransaction): void {}

  override close(): void {
    if (this.closed) return;
    this.closed = true;
    this.browser.close();
  }
}
