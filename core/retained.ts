/**
 * The last message per topic, kept by the core (MQTT retained messages, XMPP pubsub last item).
 * Survives restarts through the metadata journal.
 */
import { decodeMessage, encodeMessage } from './message-codec.js';
import type { Message } from './message.js';
import type { MetadataStore } from './metadata.js';
import { topicMatches } from './names.js';

const NS = 'retained';

export class RetainedMessages {
  private readonly cache = new Map<string, Message>();

  constructor(private readonly metadata: MetadataStore) {
    for (const [topic, bytes] of metadata.entries(NS)) this.cache.set(topic, decodeMessage(bytes));
    metadata.onRemoteChange(NS, (topic, bytes) => {
      if (bytes === undefined) this.cache.delete(topic);
      else this.cache.set(topic, decodeMessage(bytes));
    });
  }

  get size(): number {
    return this.cache.size;
  }

  /** Stores `message` as the topic's retained message; null (or an empty payload) clears it. */
  set(topic: string, message: Message | null): Promise<void> {
    if (message === null || message.payload.length === 0) {
      if (!this.cache.delete(topic)) return Promise.resolve();
      return this.metadata.delete(NS, topic);
    }
    const { origin: _origin, ...kept } = message;
    this.cache.set(topic, kept);
    return this.metadata.put(NS, topic, encodeMessage(kept));
  }

  get(topic: string): Message | undefined {
    const m = this.cache.get(topic);
    if (m && m.expiry !== undefined && m.expiry <= Date.now()) {
      void this.set(topic, null);
      return undefined;
    }
    return m;
  }

  /** Retained messages whose topic matches `pattern` (exact names are a single lookup). */
  match(pattern: string): Message[] {
    if (!pattern.includes('*') && !pattern.includes('#')) {
      const m = this.get(pattern);
      return m ? [m] : [];
    }
    const out: Message[] = [];
    for (const topic of [...this.cache.keys()]) {
      if (topicMatches(pattern, topic)) {
        const m = this.get(topic);
        if (m) out.push(m);
      }
    }
    return out;
  }
}
