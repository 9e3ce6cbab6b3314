/**
 * Starting brokers in tests: the platform's own startBroker (settings validated by the schema,
 * adapters wired as `junction start` wires them) in memory, on 127.0.0.1, every listener on an
 * ephemeral port ('auto'), silent unless JUNCTION_TEST_LOG=<level> (then pino JSON on stdout).
 *
 *   const b = await startBroker({ protocols: ['amqp'], users: { alice: 'pw' } });
 *   connect to 127.0.0.1:b.ports.amqp ... then await b.close();
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { startBroker as startPlatform, type RunningBroker, type StartOptions } from '../../index.js';
import { createUserRecord, MemoryUserStore } from '../../plugins/auth/index.js';

export type { RunningBroker, StartOptions };

export const TEST_HOST = '127.0.0.1';

type Pem = string | Buffer;

/** TLS settings as the `tls:` section takes them, with certificates as PEM text or buffers. */
export interface TestTls {
  cert?: Pem | null;
  key?: Pem | null;
  ca?: Pem | null;
  requestClientCert?: boolean | 'require';
}

/** The `auth:` section, plus users and their passwords (rules typed loosely: the schema checks them). */
export interface TestAuth {
  /** Kept in a MemoryUserStore (cheap hashes); run-time registrations land there too. */
  users?: Record<string, string>;
  usersFile?: string | null;
  allowAnonymous?: boolean;
  maxFailuresPerMinute?: number;
  rules?: Array<{ user: string | string[]; allow?: string[]; deny?: string[]; address: string | string[] }>;
}

export interface TestBrokerOptions extends Omit<StartOptions, 'tls' | 'auth'> {
  auth?: TestAuth;
  /** The global `tls:` section: with a certificate MQTT, AMQP, STOMP and Kafka also open their TLS listener (ephemeral port), XMPP offers STARTTLS. */
  tls?: TestTls;
}

/** The `tls:` section with PEM text (the schema takes a file name or the PEM itself). */
function tlsSection(tls: TestTls): Record<string, unknown> {
  return Object.fromEntries(Object.entries(tls).filter(([, v]) => v !== undefined).map(([k, v]) => [k, Buffer.isBuffer(v) ? v.toString('utf8') : v]));
}

async function userStore(users: Record<string, string>): Promise<MemoryUserStore> {
  const records: ConstructorParameters<typeof MemoryUserStore>[0] = {};
  for (const [user, password] of Object.entries(users)) records[user] = await createUserRecord(password, { N: 1024 });
  return new MemoryUserStore(records);
}

/** Starts a broker through the platform (see the file comment); close it with `close()`. */
export async function startBroker(options: TestBrokerOptions = {}): Promise<RunningBroker> {
  const { auth, tls, ...rest } = options;
  const { users, ...authSection } = auth ?? {};
  const level = process.env.JUNCTION_TEST_LOG;
  const tlsAuto = { tlsPort: -1 };
  return startPlatform({
    inMemory: options.dataDir === undefined,
    host: TEST_HOST,
    logger: level ? pino({ level }) : false,
    ...(users ? { userStore: await userStore(users) } : {}),
    auth: authSection as StartOptions['auth'],
    ...(tls ? { tls: tlsSection(tls) } : {}),
    ...rest,
    mqtt: { ...tlsAuto, ...options.mqtt },
    amqp: { ...tlsAuto, ...options.amqp },
    stomp: { ...tlsAuto, ...options.stomp },
    kafka: { ...tlsAuto, ...options.kafka },
    ports: { mqtt: 'auto', amqp: 'auto', stomp: 'auto', xmpp: 'auto', kafka: 'auto', http: 'auto', ...options.ports },
  });
}

/** Runs `fn` with a fresh test broker and always closes it. */
export async function withBroker<T>(fn: (b: RunningBroker) => Promise<T>, options?: TestBrokerOptions): Promise<T> {
  const b = await startBroker(options);
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
