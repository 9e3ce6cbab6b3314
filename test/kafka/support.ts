/**
 * Kafka adapter test support: a broker (MemoryStore unless one is given, so restarts can reuse it)
 * with only the Kafka adapter on an ephemeral port, kafkajs clients with their optional codecs
 * registered, and helpers to run the Debian clients (kcat, /usr/bin/python3).
 */
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { pino } from 'pino';
import kafkajsModule, { type Kafka as KafkaClient, type KafkaConfig } from 'kafkajs';
import { compress as zstdCompress, decompress as zstdDecompress } from '@mongodb-js/zstd';
import { compressFrameSync, decompressFrameSync } from 'lz4-napi';
import type { AuthPlugin, Logger } from '../../core/adapter.js';
import { Broker, type BrokerLimits } from '../../core/broker.js';
import { MemoryStore } from '../../core/storage/memory-store.js';
import type { Store } from '../../core/store.js';
import { KafkaAdapter } from '../../adapters/kafka/index.js';
import { snappyDecompress } from '../../core/stream/compression.js';
import { withListeners } from '../../plugins/listeners/index.js';
import { createSaslService } from '../../plugins/auth/sasl.js';

export const HOST = '127.0.0.1';

export const allowAll: AuthPlugin = {
  anonymousAllowed: true,
  authenticate: async (_p, user) => ({ user: user ?? 'anonymous', anonymous: !user }),
  authorise: () => true,
  scramCredentials: async () => null,
  verifyScram: async () => null,
};

export function testLogger(): Logger {
  return pino({ level: process.env.JUNCTION_TEST_LOG ?? 'silent' }) as unknown as Logger;
}

export interface KafkaTestBroker {
  broker: Broker;
  adapter: KafkaAdapter;
  store: Store;
  port: number;
  bootstrap: string;
  tlsPort: number | null;
  close(): Promise<void>;
}

export interface StartKafkaOptions {
  store?: Store;
  kafka?: Record<string, unknown>;
  streams?: Record<string, unknown>;
  auth?: AuthPlugin;
  port?: number;
  /** TLS certificate and key (PEM): also opens a TLS listener on an ephemeral port. */
  tls?: { cert: Buffer; key: Buffer };
  /** The core's broker-wide limits (defaults otherwise). */
  limits?: Partial<BrokerLimits>;
  /** limits.maxConnections of the adapter (default 10000). */
  maxConnections?: number;
}

export async function startKafka(options: StartKafkaOptions = {}): Promise<KafkaTestBroker> {
  const store = options.store ?? new MemoryStore();
  const broker = new Broker(store, { limits: options.limits as BrokerLimits | undefined });
  await broker.open();
  const adapter = new KafkaAdapter();
  const auth = options.auth ?? allowAll;
  await adapter.init(withListeners({
    broker,
    config: { kafka: { groupInitialRebalanceDelayMs: 0, ...options.kafka }, streams: options.streams },
    auth,
    sasl: createSaslService(auth, () => options.tls ?? null),
    log: testLogger(),
    http: null,
    tls: () => options.tls ?? null,
    listen: { host: HOST, port: options.port ?? -1, tlsPort: options.tls ? -1 : null },
  }, 'kafka', options.maxConnections ?? 10000));
  const listeners = await adapter.start();
  const listener = listeners.find((l) => !l.tls)!;
  const tlsPort = listeners.find((l) => l.tls)?.port ?? null;
  let closed = false;
  return {
    broker, adapter, store, port: listener.port, bootstrap: `${HOST}:${listener.port}`, tlsPort,
    async close() {
      if (closed) return;
      closed = true;
      await adapter.stop();
      await broker.close();
    },
  };
}

const { Kafka, logLevel, CompressionTypes, CompressionCodecs } = kafkajsModule;
export { CompressionTypes };
const require = createRequire(import.meta.url);
const snappyjs = require('snappyjs') as { compress(b: Uint8Array): Uint8Array };
let codecsRegistered = false;

/** kafkajs ships gzip only; these register snappy, lz4 and zstd with the packages the broker uses. */
export function registerKafkajsCodecs(): void {
  if (codecsRegistered) return;
  codecsRegistered = true;
  const wrap = (compressFn: (b: Buffer) => Buffer | Promise<Buffer>, decompressFn: (b: Buffer) => Buffer | Promise<Buffer>) => () => ({
    async compress(encoder: { buffer: Buffer }) { return compressFn(encoder.buffer); },
    async decompress(buffer: Buffer) { return decompressFn(buffer); },
  });
  const codecs = CompressionCodecs as unknown as Record<number, unknown>;
  codecs[CompressionTypes.Snappy] = wrap((b) => { const u = snappyjs.compress(b); return Buffer.from(u.buffer, u.byteOffset, u.byteLength); }, snappyDecompress);
  codecs[CompressionTypes.LZ4] = wrap((b) => compressFrameSync(b), (b) => decompressFrameSync(b));
  codecs[CompressionTypes.ZSTD] = wrap((b) => zstdCompress(b, 3), (b) => zstdDecompress(b));
}

export function kafkajs(bootstrap: string, extra: Partial<KafkaConfig> = {}): KafkaClient {
  registerKafkajsCodecs();
  return new Kafka({ clientId: 'junction-test', brokers: [bootstrap], logLevel: logLevel.NOTHING, retry: { retries: 5, initialRetryTime: 100 }, ...extra });
}

/** Polls `check` until it returns a truthy value (or throws after `timeoutMs`). */
export async function eventually<T>(check: () => T | Promise<T>, timeoutMs = 20000, what = 'condition'): Promise<T> {
  const end = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export interface RunResult { code: number | null; stdout: string; stderr: string }

/** Runs a command (a Debian client), feeding `input`, with a hard timeout. */
export function run(cmd: string, args: string[], input?: string | Buffer, timeoutMs = 60000, env?: Record<string, string>): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, ...env } });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (d: Buffer) => out.push(d));
    child.stderr.on('data', (d: Buffer) => err.push(d));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', (e) => { clearTimeout(timer); reject(e); });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8') });
    });
    child.stdin.on('error', () => undefined);
    child.stdin.end(input ?? '');
  });
}
