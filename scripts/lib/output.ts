/** Child-process output: a bounded tail kept for error messages, and a line splitter. */
import type { Readable } from 'node:stream';

/** Keeps the last `limit` characters written to it. */
export class OutputTail {
  private text = '';

  constructor(private readonly limit = 256 * 1024) {}

  write(chunk: string): void {
    this.text += chunk;
    // Trim only when well over the limit, so long outputs are not re-sliced on every chunk.
    if (this.text.length > this.limit * 2) this.text = this.text.slice(-this.limit);
  }

  toString(): string {
    return this.text.length > this.limit ? this.text.slice(-this.limit) : this.text;
  }
}

/** Calls `onLine` for every complete line of `stream` (and the unterminated rest at its end). */
export function eachLine(stream: Readable, onLine: (line: string) => void): void {
  let rest = '';
  stream.setEncoding('utf8');
  stream.on('data', (chunk: string) => {
    const lines = (rest + chunk).split('\n');
    rest = lines.pop()!;
    for (const line of lines) onLine(line);
  });
  stream.on('end', () => {
    if (rest) onLine(rest);
    rest = '';
  });
}
