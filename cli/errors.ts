/**
 * User-facing failures of the command-line tools: each becomes one line on stderr and exit code 1,
 * never a stack trace (set JUNCTION_DEBUG=1 to see the stack of an unexpected error).
 */

/** A failure the user can act on; its message is the whole line printed. */
export class CliError extends Error {
  override readonly name = 'CliError';
  constructor(message: string, readonly exitCode = 1) {
    super(message);
  }
}

/** A bad command line (unknown flag, missing value, conflicting actions). */
export class UsageError extends CliError {}

/** The errors a library wrapped around the one that matters, outermost first. */
export function errorChain(err: unknown): Array<Record<string, any>> {
  const out: Array<Record<string, any>> = [];
  const seen = new Set<unknown>();
  let at: unknown = err;
  while (at && typeof at === 'object' && !seen.has(at) && out.length < 10) {
    seen.add(at);
    out.push(at as Record<string, any>);
    const e = at as Record<string, any>;
    at = e.cause ?? e.originalError ?? e.retriableError ?? (Array.isArray(e.errors) ? e.errors[0] : undefined);
  }
  return out;
}

const NETWORK_CODES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE']);

/** The network reason (connect ECONNREFUSED 127.0.0.1:1, a timeout) when `err` is one, else null. */
export function networkReason(err: unknown): string | null {
  for (const e of errorChain(err)) {
    if (typeof e.code === 'string' && NETWORK_CODES.has(e.code)) return e.message || e.code;
    if (e.name === 'KafkaJSConnectionError' || e.name === 'KafkaJSConnectionClosedError') return String(e.message);
    if (/Connection timeout|Failed to connect|connect ECONNREFUSED|getaddrinfo/i.test(String(e.message))) return String(e.message);
  }
  return null;
}

/** The innermost message, which is the one a library's wrapper hides ("Number of retries exceeded"). */
export function rootMessage(err: unknown): string {
  const chain = errorChain(err);
  for (let i = chain.length - 1; i >= 0; i--) {
    const m = chain[i].message;
    if (typeof m === 'string' && m) return m;
  }
  return String(err);
}
