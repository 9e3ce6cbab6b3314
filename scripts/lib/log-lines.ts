/** One child's log line, shortened and prefixed with the child's name, for the demo cluster's terminal. */

const PINO_LEVELS: Record<number, string> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO', 40: 'WARN', 50: 'ERROR', 60: 'FATAL' };
const PINO_NOISE = new Set(['level', 'time', 'msg', 'pid', 'hostname', 'name']);

/** pino JSON (Junction) becomes `LEVEL msg {other fields}`; nats-server's `[pid] date time ` prefix is dropped. */
export function shortenLogLine(line: string): string {
  if (line.startsWith('{')) {
    try {
      const entry = JSON.parse(line) as Record<string, unknown>;
      const rest = Object.fromEntries(Object.entries(entry).filter(([k]) => !PINO_NOISE.has(k)));
      const level = PINO_LEVELS[entry.level as number] ?? String(entry.level);
      return `${level.padEnd(5)} ${String(entry.msg ?? '')}${Object.keys(rest).length ? ` ${JSON.stringify(rest)}` : ''}`;
    } catch {
      return line;
    }
  }
  return line.replace(/^\[\d+\] \d{4}\/\d\d\/\d\d \d\d:\d\d:\d\d\.\d+ /, '');
}

/** nats-server's JetStream banner: ASCII-art lines that say nothing in a prefixed, interleaved log. */
export function isBanner(line: string): boolean {
  return /\[INF\] +[ _|/\\()]*$/.test(line) || line.includes('https://docs.nats.io/jetstream');
}

export function prefixed(name: string, width: number, line: string): string {
  return `${`[${name}]`.padEnd(width + 2)} ${shortenLogLine(line)}\n`;
}
