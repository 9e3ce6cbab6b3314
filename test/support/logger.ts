/** A Logger that keeps what it is told and prints nothing: tests assert on what was logged (once). */
import type { Logger } from '../../core/adapter.js';

export interface LogRecord {
  level: 'info' | 'warn' | 'error' | 'debug';
  obj: unknown;
  msg?: string;
}

export function recordingLogger(records: LogRecord[] = []): Logger & { records: LogRecord[] } {
  const make = (): Logger & { records: LogRecord[] } => ({
    records,
    info: (obj, msg) => { records.push({ level: 'info', obj, msg }); },
    warn: (obj, msg) => { records.push({ level: 'warn', obj, msg }); },
    error: (obj, msg) => { records.push({ level: 'error', obj, msg }); },
    debug: () => { /* not kept */ },
    child: () => make(),
  });
  return make();
}
