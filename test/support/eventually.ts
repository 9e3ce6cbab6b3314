/**
 * Waiting in tests for a state no event announces: `eventually` polls `cond` until it returns
 * something truthy and resolves with that. A throw counts as "not yet" (the last one is reported).
 * The timeout only bounds a hang, it asserts no timing; the error names `what` (by default the
 * condition's own source text).
 *
 *   await eventually(() => queue.messageCount === 3, { what: 'three messages queued' });
 *   const meta = await eventually(() => admin.fetchTopicMetadata(...), { timeout: 30_000, what: 'the topic' });
 */
export interface EventuallyOptions {
  /** Milliseconds before giving up (default 10 s). */
  timeout?: number;
  /** What is awaited, for the failure message (a function is asked at the failure: it may show the state then). */
  what?: string | (() => string);
}

const POLL_MS = 10;

function source(cond: () => unknown): string {
  const text = cond.toString().replace(/\s+/g, ' ').replace(/^(async )?\(\) => /, '');
  return text.length > 160 ? `${text.slice(0, 157)}...` : text;
}

export async function eventually<T>(cond: () => T | Promise<T>, options: EventuallyOptions = {}): Promise<NonNullable<T>> {
  const timeout = options.timeout ?? 10_000;
  const end = Date.now() + timeout;
  let last: unknown;
  for (;;) {
    try {
      const value = await cond();
      if (value) return value as NonNullable<T>;
      last = undefined;
    } catch (err) {
      last = err;
    }
    if (Date.now() >= end) {
      const why = last ? ` (last error: ${(last as Error).message ?? String(last)})` : '';
      const what = typeof options.what === 'function' ? options.what() : options.what ?? source(cond);
      throw new Error(`timed out after ${timeout} ms waiting for ${what}${why}`);
    }
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
}
