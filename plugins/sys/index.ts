/**
 * MQTT `$SYS` topics as mosquitto publishes them, every `sys.intervalSeconds` (0 = off), as
 * retained messages through the core: an MQTT client subscribes to `$SYS/#`, a STOMP or AMQP
 * client to `/topic/$SYS.#` (core names swap '/' and '.'). A value is published when it changed
 * since the last interval. Topics starting with `$` are not matched by a leading wildcard (MQTT
 * 4.7.2; the core's rule), so a `#` subscriber never sees them. Topics: docs/mqtt.md.
 */
import type { Logger } from '../../core/adapter.js';
import type { Broker } from '../../core/broker.js';
import { createMessage } from '../../core/message.js';

/** Core name of MQTT `$SYS/broker/<path>`. */
export const sysTopic = (path: string): string => `$SYS.broker.${path.replaceAll('/', '.')}`;

export interface SysTopicsOptions {
  broker: Broker;
  intervalSeconds: number;
  version: string;
  startedAt: number;
  /** Open client connections, every protocol. */
  connections(): number;
  log?: Logger;
}

/** Queues of MQTT persistent sessions (adapters/mqtt/topics.ts): without a consumer = a disconnected client. */
const SESSION_QUEUE_PREFIX = 'mqtt.session.';

export class SysTopics {
  private timer?: NodeJS.Timeout;
  private readonly last = new Map<string, string>();
  private publishing: Promise<void> = Promise.resolve();

  constructor(private readonly o: SysTopicsOptions) {}

  /** Publishes at once, then every interval; nothing when the interval is 0. */
  start(): void {
    if (this.o.intervalSeconds <= 0) return;
    void this.publish();
    this.timer = setInterval(() => void this.publish(), this.o.intervalSeconds * 1000);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.publishing;
  }

  /** The values now, by path under `$SYS/broker/`. */
  values(): Record<string, string> {
    const { broker } = this.o;
    const t = broker.traffic;
    const connected = this.o.connections();
    let disconnected = 0;
    for (const q of broker.queues()) if (q.name.startsWith(SESSION_QUEUE_PREFIX) && q.consumers.length === 0) disconnected++;
    return {
      version: `junction version ${this.o.version}`,
      uptime: `${Math.floor((Date.now() - this.o.startedAt) / 1000)} seconds`,
      'clients/connected': String(connected),
      'clients/disconnected': String(disconnected),
      'clients/total': String(connected + disconnected),
      'messages/received': String(t.messagesIn),
      'messages/sent': String(t.messagesOut),
      'bytes/received': String(t.bytesIn),
      'bytes/sent': String(t.bytesOut),
      'subscriptions/count': String(broker.subscriptionCount),
      'retained messages/count': String(broker.retained.size),
    };
  }

  /** Publishes every value that changed (retained, so a new subscriber gets them all at once). */
  publish(): Promise<void> {
    this.publishing = this.publishing.then(async () => {
      const waits: Promise<void>[] = [];
      for (const [path, value] of Object.entries(this.values())) {
        if (this.last.get(path) === value) continue;
        this.last.set(path, value);
        const message = createMessage({ topic: sysTopic(path), payload: Buffer.from(value), contentType: 'text/plain', source: 'sys' });
        waits.push(this.o.broker.retained.set(message.topic, message), this.o.broker.publish(message));
      }
      await Promise.all(waits);
    }).catch((err: unknown) => this.o.log?.warn({ err: (err as Error).message }, '$SYS topics not published'));
    return this.publishing;
  }
}
