/**
 * STOMP destinations and their core names:
 *   /queue/NAME      queue NAME (declared durable when absent)
 *   /amq/queue/NAME  queue NAME, which must exist
 *   /topic/a.b.c     topic a.b.c (SUBSCRIBE may use `*` and `#`)
 *   /temp-queue/NAME the connection's private reply queue `tmp.stomp.<connection>.<n>`
 * In the core, reply-to addresses are `/queue/NAME` or `/topic/a.b.c` (docs/architecture.md).
 */

export type Destination =
  | { kind: 'queue'; name: string }
  | { kind: 'amq-queue'; name: string }
  | { kind: 'topic'; name: string }
  | { kind: 'temp-queue'; name: string };

export class DestinationError extends Error {
  override readonly name = 'DestinationError';
}

const PREFIXES: Array<[string, Destination['kind']]> = [
  ['/queue/', 'queue'],
  ['/topic/', 'topic'],
  ['/amq/queue/', 'amq-queue'],
  ['/temp-queue/', 'temp-queue'],
];

export const MAX_DESTINATION_LENGTH = 1024;

export function parseDestination(dest: string): Destination {
  for (const [prefix, kind] of PREFIXES) {
    if (!dest.startsWith(prefix)) continue;
    const name = dest.slice(prefix.length);
    if (name.length === 0) throw new DestinationError(`destination "${dest}" has an empty name`);
    if (name.length > MAX_DESTINATION_LENGTH) throw new DestinationError('destination name is too long');
    if (name.includes('\u0000')) throw new DestinationError('destination name contains NUL');
    return { kind, name } as Destination;
  }
  throw new DestinationError(`unsupported destination "${dest}": use /queue/NAME, /topic/NAME, /amq/queue/NAME or /temp-queue/NAME`);
}
