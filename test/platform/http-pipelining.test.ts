/**
 * The HTTP listener under clients that misbehave: pipelined requests on one keep-alive connection
 * whose responses are never read build no backlog (memory bounded, other clients served), and a
 * client aborting its request body is logged at debug without a stack, never at error.
 */
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import type { Logger } from '../../core/adapter.js';
import { HttpListener } from '../../plugins/http/index.js';
import { startBroker, TEST_HOST, type RunningBroker } from '../support/broker.js';
import { eventually } from '../support/index.js';

const MB = 1024 * 1024;
const BOUND = 200 * MB;

function silentSocket(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect(port, TEST_HOST, () => resolve(s));
    s.once('error', reject);
    s.pause();
  });
}

async function peakRssGrowth(during: () => Promise<void>): Promise<number> {
  const base = process.memoryUsage().rss;
  let peak = 0;
  const timer = setInterval(() => { peak = Math.max(peak, process.memoryUsage().rss - base); }, 20);
  try {
    await during();
  } finally {
    clearInterval(timer);
  }
  return Math.max(peak, process.memoryUsage().rss - base);
}

async function get(port: number, path: string): Promise<number> {
  const res = await fetch(`http://${TEST_HOST}:${port}${path}`);
  await res.arrayBuffer();
  return res.status;
}

const pipelined = (path: string, n: number) => Buffer.from(`GET ${path} HTTP/1.1\r\nHost: x\r\n\r\n`.repeat(n));

describe('http: pipelining and aborted requests', function () {
  this.timeout(60000);
  const sockets: Socket[] = [];
  afterEach(() => { for (const s of sockets.splice(0)) s.destroy(); });

  it('1,000 pipelined requests for a 1 MiB response, never read: memory bounded, others served', async () => {
    const http = new HttpListener({
      config: { port: 0, maxHeaderBytes: 16384, headersTimeoutMs: 10000, requestTimeoutMs: 30000, keepAliveTimeoutMs: 5000, maxWebSocketMessageBytes: MB },
      host: TEST_HOST, port: 0, maxConnections: 100, tls: null, log: pino({ level: 'silent' }) as unknown as Logger,
    });
    let built = 0;
    http.route('GET', '/big', async (_req, res) => {
      await new Promise((r) => setImmediate(r)); // as /metrics: the response is built after the request is parsed
      built++;
      const body = Buffer.alloc(MB, built & 0xff);
      res.writeHead(200, { 'content-length': body.length });
      res.end(body);
    });
    const { port } = await http.start();
    try {
      const s = await silentSocket(port);
      sockets.push(s);
      const growth = await peakRssGrowth(async () => {
        s.write(pipelined('/big', 1000));
        await new Promise((r) => setTimeout(r, 1500));
        assert.equal(await get(port, '/healthz'), 200, 'another client is served meanwhile');
      });
      assert.ok(growth < BOUND, `rss grew by ${Math.round(growth / MB)} MB`);
      assert.ok(built < 100, `${built} responses were built for a client that reads none`);
    } finally {
      await http.stop(100);
    }
  });

  describe('on the broker', () => {
    let b: RunningBroker;
    const lines: Array<{ level: number; msg: string; err?: unknown }> = [];
    before(async () => {
      const sink = new Writable({ write(chunk, _enc, done) { lines.push(JSON.parse(chunk.toString())); done(); } });
      b = await startBroker({ protocols: [], logger: pino({ level: 'debug' }, sink) as unknown as Logger });
    });
    after(async () => { await b.close(); });

    it('1,000 pipelined GET /metrics, never read: memory bounded, /metrics still served', async () => {
      const s = await silentSocket(b.ports.http!);
      sockets.push(s);
      const growth = await peakRssGrowth(async () => {
        s.write(pipelined('/metrics', 1000));
        await new Promise((r) => setTimeout(r, 1500));
        assert.equal(await get(b.ports.http!, '/metrics'), 200);
      });
      assert.ok(growth < BOUND, `rss grew by ${Math.round(growth / MB)} MB`);
    });

    it('a client aborting its request body is logged at debug, without a stack', async () => {
      const s = connect(b.ports.http!, TEST_HOST);
      s.on('error', () => undefined);
      await new Promise((r) => s.once('connect', r));
      s.write('PUT /api/queues/aborted HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"dura');
      await new Promise((r) => setTimeout(r, 100));
      s.destroy();
      const note = await eventually(() => lines.find((l) => /went away/.test(l.msg)), { what: 'the abort noted' });
      assert.equal(note.level, 20, 'at debug');
      assert.equal(typeof note.err, 'string', 'its message only, no stack');
      assert.deepEqual(lines.filter((l) => l.level >= 50), [], 'nothing at error');
    });
  });
});
