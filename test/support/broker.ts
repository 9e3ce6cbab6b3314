/**
 * Starting brokers in tests: in memory, on 127.0.0.1, every listener on an ephemeral port ('auto'),
 * silent unless JUNCTION_TEST_LOG=<level> (then pino JSON on stdout).
 *
 *   const b = await startTestBroker();
 *   connect to 127.0.0.1:b.ports.mqtt ... then await b.close();
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { startBroker, type RunningBroker, type StartOptions } from '../../index.js';

export type { RunningBroker, StartOptions };

export const TEST_HOST = '127.0.0.1';

export async function startTestBroker(options: StartOptions = {}): Promise<RunningBroker> {
  const level = process.env.JUNCTION_TEST_LOG;
  const tlsAuto = { tlsPort: -1 };
  return startBroker({
    inMemory: options.dataDir === undefined,
    host: TEST_HOST,
    logger: level ? pino({ level }) : false,
    ...options,
    mqtt: { ...tlsAuto, ...options.mqtt },
    amqp: { ...tlsAuto, ...options.amqp },
    stomp: { ...tlsAuto, ...options.stomp },
    kafka: { ...tlsAuto, ...options.kafka },
    ports: { mqtt: 'auto', amqp: 'auto', stomp: 'auto', xmpp: 'auto', kafka: 'auto', http: 'auto', ...options.ports },
  });
}

/** Runs `fn` with a fresh test broker and always closes it. */
export async function withBroker<T>(fn: (b: RunningBroker) => Promise<T>, options?: StartOptions): Promise<T> {
  const b = await startTestBroker(options);
  try {
    return await fn(b);
  } finally {
    await b.close();
  }
}

/** A fresh temporary directory; remove it with `removeTempDir`. */
export function tempDir(prefix = 'junction-test-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

export function removeTempDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}
