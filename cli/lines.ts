/**
 * Stdin as batches of lines: whatever lines have arrived while the previous batch was being sent
 * form the next one (so a pipe is sent in large batches and a typed line at once), with the input
 * paused while too many lines wait.
 */
import { createInterface } from 'node:readline';

export async function forEachLineBatch(onBatch: (lines: string[], firstLineNo: number) => Promise<void>, maxBatch = 1000): Promise<number> {
  const rl = createInterface({ input: process.stdin, crlfDelay: Infinity, terminal: false });
  const queue: string[] = [];
  let ended = false;
  let wake: (() => void) | null = null;
  let failure: unknown = null;
  rl.on('line', (line) => {
    queue.push(line);
    if (queue.length >= maxBatch * 10) rl.pause();
    wake?.();
  });
  rl.on('close', () => {
    ended = true;
    wake?.();
  });
  let lineNo = 1;
  try {
    for (;;) {
      if (queue.length === 0) {
        if (ended) break;
        await new Promise<void>((r) => { wake = r; });
        wake = null;
        continue;
      }
      const batch = queue.splice(0, maxBatch);
      if (queue.length < maxBatch) rl.resume();
      await onBatch(batch, lineNo);
      lineNo += batch.length;
    }
  } catch (err) {
    failure = err;
  } finally {
    rl.close();
  }
  if (failure) throw failure;
  return lineNo - 1;
}
