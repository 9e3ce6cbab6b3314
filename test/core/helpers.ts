import { Broker, BrokerOptions } from '../../core/broker.js';
import { createMessage, Message, MessageInit } from '../../core/message.js';
import { MemoryStore } from '../../core/storage/memory-store.js';
import type { Store } from '../../core/store.js';

export async function openBroker(store: Store = new MemoryStore(), options: Partial<BrokerOptions> = {}): Promise<Broker> {
  const broker = new Broker(store, { housekeepingIntervalMs: 50, ...options });
  await broker.open();
  return broker;
}

export function msg(topic: string, body: string, extra: Partial<MessageInit> = {}): Message {
  return createMessage({ topic, payload: Buffer.from(body), ...extra });
}

export function bodies(list: Array<{ message: Message }>): string[] {
  return list.map((d) => d.message.payload.toString());
}

export const tick = (ms = 0) => new Promise<void>((r) => setTimeout(r, ms));
