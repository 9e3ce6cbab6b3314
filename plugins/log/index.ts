/**
 * The broker's logger: pino JSON lines, or one human-readable line per record (`log.format:
 * pretty`, or `auto` on a terminal). pino-pretty is not a dependency: this formatter is small and
 * writes synchronously, so a line printed just before exit is not lost.
 *
 *   03:51:35.123 INFO  listening listener=mqtt url=mqtt://0.0.0.0:1883
 */
import { pino, type Logger as PinoLogger } from 'pino';

export type LogFormat = 'auto' | 'pretty' | 'json';

export interface LoggerOptions {
  level?: string;
  format?: LogFormat;
  /** Fields on every JSON line (the CLI adds name and pid). Left out of pretty lines. */
  base?: Record<string, unknown>;
  /** Where lines go; default stdout. */
  stream?: { write(s: string): unknown; isTTY?: boolean };
}

const LEVELS: Record<number, string> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO', 40: 'WARN', 50: 'ERROR', 60: 'FATAL' };
const COLOURS: Record<number, string> = { 10: '90', 20: '36', 30: '32', 40: '33', 50: '31', 60: '35' };
const HIDDEN = new Set(['level', 'time', 'msg', 'pid', 'hostname', 'name']);

function value(v: unknown): string {
  if (typeof v === 'string') return v === '' || /[\s"=]/.test(v) ? JSON.stringify(v) : v;
  return JSON.stringify(v) ?? String(v);
}

/** One pino JSON line as `HH:MM:SS.mmm LEVEL msg key=value ...`; an error's stack follows, indented. */
export function formatPretty(jsonLine: string, colour = false): string {
  let rec: Record<string, unknown>;
  try {
    rec = JSON.parse(jsonLine) as Record<string, unknown>;
  } catch {
    return jsonLine.endsWith('\n') ? jsonLine : `${jsonLine}\n`;
  }
  const time = typeof rec.time === 'number' ? new Date(rec.time) : new Date();
  const hms = `${String(time.getHours()).padStart(2, '0')}:${String(time.getMinutes()).padStart(2, '0')}:${String(time.getSeconds()).padStart(2, '0')}.${String(time.getMilliseconds()).padStart(3, '0')}`;
  const n = typeof rec.level === 'number' ? rec.level : 30;
  const label = (LEVELS[n] ?? String(rec.level)).padEnd(5);
  let stack = '';
  const fields: string[] = [];
  for (const [k, v] of Object.entries(rec)) {
    if (HIDDEN.has(k) || v === undefined) continue;
    if (v && typeof v === 'object' && typeof (v as { stack?: unknown }).stack === 'string') {
      const err = v as { message?: string; stack: string };
      fields.push(`${k}=${value(err.message ?? '')}`);
      stack = `\n    ${err.stack.split('\n').slice(1).map((l) => l.trim()).join('\n    ')}`;
    } else {
      fields.push(`${k}=${value(v)}`);
    }
  }
  const lvl = colour ? `\x1b[${COLOURS[n] ?? '0'}m${label}\x1b[0m` : label;
  return `${hms} ${lvl} ${rec.msg ?? ''}${fields.length ? ` ${fields.join(' ')}` : ''}${stack}\n`;
}

/** Pretty when asked, or for `auto` when the stream is a terminal; JSON lines otherwise. */
export function createLogger(options: LoggerOptions = {}): PinoLogger {
  const stream = options.stream ?? process.stdout;
  const pretty = options.format === 'pretty' || ((options.format ?? 'auto') === 'auto' && stream.isTTY === true);
  const opts = { level: options.level ?? 'info', base: options.base ?? { name: 'junction' } };
  if (!pretty) return options.stream ? pino(opts, options.stream) : pino(opts);
  const colour = stream.isTTY === true;
  return pino(opts, { write: (line: string) => stream.write(formatPretty(line, colour)) });
}

/**
 * `scheme://host:port` of a listener (a WebSocket endpoint: `ws://host:port/path`), with every
 * "all interfaces" spelling ("", "::", "0.0.0.0") as 0.0.0.0.
 */
export function listenerUrl(l: { name: string; protocol: string; host: string; port: number; tls: boolean; path?: string }): string {
  const host = l.host === '' || l.host === '::' || l.host === '0.0.0.0' ? '0.0.0.0' : l.host.includes(':') ? `[${l.host}]` : l.host;
  if (l.path !== undefined) return `${l.tls ? 'wss' : 'ws'}://${host}:${l.port}${l.path}`;
  const scheme = l.name === 'http' ? l.protocol : l.tls ? TLS_SCHEMES[l.protocol] ?? `${l.protocol}s` : l.protocol;
  return `${scheme}://${host}:${l.port}`;
}

/** The URL scheme clients use for a protocol over TLS (`mqtts://`, `kafka+ssl://`, ...). */
const TLS_SCHEMES: Record<string, string> = { mqtt: 'mqtts', amqp: 'amqps', stomp: 'stomp+ssl', xmpp: 'xmpps', kafka: 'kafka+ssl' };
