/**
 * AMQP addresses -> core nodes (docs/amqp.md, "Addresses"):
 *
 *   /queue/NAME, queue://NAME            queue NAME (created on first use when autoCreateQueues)
 *   /queues/NAME (RabbitMQ 4, %-encoded) queue NAME, which must exist
 *   /amq/queue/NAME (RabbitMQ 3 plugin)  queue NAME, which must exist
 *   /topic/a.b.c, topic://a.b.c          topic a.b.c (receivers may use * and #)
 *   /exchange/amq.topic/KEY, /exchanges/amq.topic/KEY   topic KEY (RabbitMQ styles)
 *   anything else with / or ://          no node (amqp:not-found)
 *   NAME                                 by the terminus capability `queue` / `topic` (Qpid JMS),
 *                                        else as `amqp.bareName` says (queue by default)
 */
export type BareNamePolicy = 'queue' | 'topic' | 'refuse';

export type AmqpNode =
  | { kind: 'queue'; name: string; mustExist: boolean }
  | { kind: 'topic'; name: string };

const MAX_QUEUE_NAME = 1024;

function decode(s: string): string | null {
  try {
    return decodeURIComponent(s);
  } catch {
    return null;
  }
}

function queue(name: string | null, mustExist: boolean): AmqpNode | null {
  if (name === null || name.length === 0 || name.length > MAX_QUEUE_NAME || name.includes('\u0000')) return null;
  return { kind: 'queue', name, mustExist };
}

function topic(name: string | null): AmqpNode | null {
  if (name === null || name.length === 0 || name.includes('\u0000')) return null;
  return { kind: 'topic', name };
}

/** The core node an address names, or null when it names none this broker knows. */
export function parseAddress(address: string, bareName: BareNamePolicy, capabilities: readonly string[] = []): AmqpNode | null {
  if (address.length === 0) return null;
  if (address.startsWith('/queue/')) return queue(address.slice(7), false);
  if (address.startsWith('queue://')) return queue(address.slice(8), false);
  if (address.startsWith('/topic/')) return topic(address.slice(7));
  if (address.startsWith('topic://')) return topic(address.slice(8));
  if (address.startsWith('/queues/')) return queue(decode(address.slice(8)), true);
  if (address.startsWith('/amq/queue/')) return queue(address.slice(11), true);
  if (address.startsWith('/exchanges/amq.topic/')) return topic(decode(address.slice(21)));
  if (address.startsWith('/exchange/amq.topic/')) return topic(address.slice(20));
  if (address.startsWith('/') || address.includes('://')) return null;
  if (capabilities.includes('topic') || capabilities.includes('temporary-topic')) return topic(address);
  if (capabilities.includes('queue') || capabilities.includes('temporary-queue')) return queue(address, false);
  if (bareName === 'queue') return queue(address, false);
  if (bareName === 'topic') return topic(address);
  return null;
}

/**
 * A reply-to in the core's form (`/queue/NAME`, `/topic/a.b.c`) when the address names a node;
 * otherwise the address as given.
 */
export function replyToCore(address: string, bareName: BareNamePolicy): string {
  const node = parseAddress(address, bareName);
  if (!node) return address;
  return node.kind === 'queue' ? `/queue/${node.name}` : `/topic/${node.name}`;
}
