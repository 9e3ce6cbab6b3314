/**
 * Bounds what pipelined requests on one keep-alive connection can make the listener hold. Node
 * writes responses in request order, but it runs the handler of every request it has parsed at
 * once: a client that pipelines a thousand requests and reads nothing would have a thousand
 * responses built and queued. Here at most DEPTH handlers of a connection run at a time (a
 * response that cannot be written because the client does not read keeps its turn), later
 * requests wait for a turn with the socket paused, and past MAX_WAITING waiting requests the
 * connection is closed (logged once per connection, at warn).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Logger } from '../../core/adapter.js';

/** Handlers of one connection running at a time. */
export const DEPTH = 4;
/** Parsed requests of one connection waiting for a turn; more closes the connection. */
export const MAX_WAITING = 256;

interface Turns {
  active: number;
  waiting: Array<() => void>;
  /** This pause is ours to undo (Node pauses the socket itself while a response waits for 'drain'). */
  paused: boolean;
}

export class RequestTurns {
  private readonly bySocket = new WeakMap<Socket, Turns>();

  constructor(private readonly log: Logger) {}

  /** Runs `handle` now or once an earlier request of the same connection has been answered. */
  run(req: IncomingMessage, res: ServerResponse, handle: () => void): void {
    const socket = req.socket;
    if (socket.destroyed) return;
    let turns = this.bySocket.get(socket);
    if (!turns) {
      const t: Turns = { active: 0, waiting: [], paused: false };
      this.bySocket.set(socket, t);
      socket.once('close', () => { t.waiting.length = 0; });
      turns = t;
    }
    const t = turns;
    const start = () => {
      t.active++;
      res.once('close', () => {
        t.active--;
        const next = t.waiting.shift();
        if (next) next();
        else if (t.paused) {
          t.paused = false;
          if (!socket.destroyed) socket.resume();
        }
      });
      handle();
    };
    if (t.active < DEPTH) return start();
    if (t.waiting.length >= MAX_WAITING) {
      this.log.warn({ remote: socket.remoteAddress, waiting: t.waiting.length }, 'http client pipelines requests without reading the responses: closing the connection');
      t.waiting.length = 0;
      socket.destroy();
      return;
    }
    t.waiting.push(start);
    if (!t.paused) {
      t.paused = true;
      socket.pause();
    }
  }
}

/** True when `err` only says the client went away (aborted body, reset connection): not a server fault. */
export function isClientAbort(req: IncomingMessage, err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException | null)?.code;
  if (code === 'ECONNRESET' || code === 'ERR_STREAM_PREMATURE_CLOSE' || code === 'EPIPE') return true;
  return (err as Error | null)?.message === 'aborted' || (req.destroyed && !req.complete);
}
