/** Helpers for the queue tests that run the broker in a child process (test/support/junction-process.ts). */
import assert from 'node:assert/strict';
import type { Client, IPublishParams } from '@stomp/stompjs';
import { TEST_HOST } from '../support/broker.js';
import type { JunctionProcess } from '../support/junction-process.js';

/** One value from the node's /metrics: `name` with `labels` (`{queue="q"}`) or, without labels, its first series. */
export async function metric(node: JunctionProcess, metricName: string, labels = ''): Promise<number> {
  const text = await (await fetch(`http://${TEST_HOST}:${node.ports.http}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${metricName}${labels} `) || l.startsWith(`${metricName}${labels}{`));
  assert.ok(line, `metric ${metricName}${labels} in /metrics`);
  return Number(line.slice(line.lastIndexOf(' ') + 1));
}

export const stompUrl = (node: JunctionProcess) => `ws://${TEST_HOST}:${node.ports.http}/stomp`;

/** Sends `n` frames, each with a receipt, and resolves once every receipt came back (acknowledged = stored). */
export async function publishWithReceipts(client: Client, n: number, frame: (i: number) => IPublishParams): Promise<void> {
  const receipts = new Set<string>();
  const all = new Promise<void>((resolve) => {
    client.onUnhandledReceipt = (f) => {
      receipts.delete(f.headers['receipt-id']);
      if (receipts.size === 0) resolve();
    };
  });
  for (let i = 0; i < n; i++) {
    receipts.add(`r${i}`);
    const params = frame(i);
    client.publish({ ...params, headers: { ...params.headers, receipt: `r${i}` } });
  }
  await all;
}
