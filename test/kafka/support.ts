/**
 * Kafka adapter test support: a broker with only the Kafka adapter, started through the platform
 * (test/support startBroker; pass a store to reuse it across restarts), kafkajs clients with their optional codecs
 * registered, and helpers to run the Debian clients (kcat, /usr/bin/python3).
 */
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import kafkajsModule, { type Kafka as KafkaClient, type KafkaConfig } from 'kafkajs';
import { compress as zstdCompress, decompress as zstdDecompress } from '@mongodb-js/zstd';
import { compressFrameSync, decompressFrameSync } from 'lz4-napi';
import type { Broker } from '../../core/broker.js';
import { snappyDecompress } from '../../core/stream/compression.js';
import { startBroker, TEST_HOST, type RunningBroker, type TestBrokerOptions } from '../support/index.js';

export const HOST = TEST_HOST;

export interface KafkaTestBroker {
  b: RunningBroker;
  broker: Broker;
  port: number;
  bootstrap: string;
  tlsPort: number | null;
  close(): Promise<void>;
}

/**
 * A broker with only the Kafka adapter (test/support startBroker); the consumer-group rebalance
 * delay is 0 unless `kafka.groupInitialRebalanceDelayMs` says otherwise.
 */
export async function startKafka(options: TestBrokerOptions = {}): Promise<KafkaTestBroker> {
  const b = await startBroker({ ...options, protocols: ['kafka'], kafka: { groupInitialRebalanceDelayMs: 0, ...options.kafka } });
  const port = b.ports.kafka!;
  return { b, broker: b.broker, port, bootstrap: `${HOST}:${port}`, tlsPort: b.ports['kafka-tls'] ?? null, close: () => b.close() };
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
