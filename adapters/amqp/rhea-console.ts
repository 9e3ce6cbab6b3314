/**
 * rhea writes some diagnostics straight to the console (console.warn / error / log / trace in
 * connection.js, terminus.js, message.js, session.js, link.js, sasl.js...), which would land as
 * bare lines in the broker's JSON log. rhea has no hook for them and they are spread over its
 * modules, so the console methods are wrapped once: a call made by rhea's own code (its direct
 * caller is under rhea/lib/) goes to the AMQP logger as one warn line without a stack, rate-
 * limited; every other call passes through untouched.
 */
import { format } from 'node:util';
import type { Logger } from '../../core/adapter.js';

const METHODS = ['log', 'info', 'warn', 'error', 'trace'] as const;
const RHEA_FRAME = /[\\/]rhea[\\/]lib[\\/]/;
const LOG_INTERVAL_MS = 1000;

interface Sink {
  log: Logger;
  lastLog: number;
  suppressed: number;
}

/** Loggers of the running AMQP adapters: the newest one receives rhea's lines. */
const sinks: Sink[] = [];
/** Our wrappers: a console method that is not one of them (replaced since) is wrapped again. */
const wrappers = new WeakSet<object>();

/** The direct caller of `fn` is code in rhea/lib/. */
function calledByRhea(fn: (...args: unknown[]) => void): boolean {
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 1;
  const probe: { stack?: string } = {};
  Error.captureStackTrace(probe, fn);
  Error.stackTraceLimit = limit;
  return RHEA_FRAME.test(probe.stack ?? '');
}

function install(): void {
  for (const method of METHODS) {
    if (wrappers.has(console[method])) continue;
    const original = console[method].bind(console);
    const wrapper = (...args: unknown[]): void => {
      const sink = sinks[sinks.length - 1];
      if (!sink || !calledByRhea(wrapper)) {
        original(...args);
        return;
      }
      const now = Date.now();
      if (now - sink.lastLog < LOG_INTERVAL_MS) {
        sink.suppressed++;
        return;
      }
      sink.lastLog = now;
      sink.log.warn({ source: 'rhea', level: method, suppressed: sink.suppressed || undefined }, format(...args));
      sink.suppressed = 0;
    };
    wrappers.add(wrapper);
    console[method] = wrapper;
  }
}

/** Routes rhea's console output to `log` until the returned function is called. */
export function routeRheaConsole(log: Logger): () => void {
  install();
  const sink: Sink = { log, lastLog: 0, suppressed: 0 };
  sinks.push(sink);
  return () => {
    const i = sinks.indexOf(sink);
    if (i >= 0) sinks.splice(i, 1);
  };
}
