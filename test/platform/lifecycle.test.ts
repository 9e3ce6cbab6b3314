import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { ADAPTER_NAMES, adapterFactories, loadAdapters } from '../../adapters/index.js';
import { ConfigError } from '../../config/load.js';
import type { AdapterContext, ListenerInfo, ProtocolAdapter } from '../../core/adapter.js';
import { removeTempDir, startBroker, tempDir, TEST_HOST } from '../support/index.js';

/** A fake protocol adapter that records its lifecycle and listens where ctx.listen says. */
class FakeAdapter implements ProtocolAdapter {
  ctx!: AdapterContext;
  events: string[] = [];
  server?: Server;
  readyDuringStart?: number;
  readyDuringStop?: number;
  constructor(readonly name: string, private readonly opts: { failStart?: boolean } = {}) {}
  async init(ctx: AdapterContext) {
    this.ctx = ctx;
    this.events.push('init');
  }
  async start(): Promise<ListenerInfo[]> {
    this.events.push('start');
    if (this.ctx.http) this.readyDuringStart = (await fetch(`http://${TEST_HOST}:${httpPort(this.ctx)}/readyz`)).status;
    if (this.opts.failStart) throw new Error(`${this.name} cannot start`);
    const port = this.ctx.listen.port;
    if (port === null) return [];
    const server = (this.server = createServer((s) => s.end()));
    await new Promise<void>((r) => server.listen(port, this.ctx.listen.host, r));
    const addr = server.address() as { port: number; address: string };
    return [{ name: this.name, protocol: this.name, host: addr.address, port: addr.port, tls: false }];
  }
  async stop() {
    this.events.push('stop');
    if (this.ctx.http) this.readyDuringStop = (await fetch(`http://${TEST_HOST}:${httpPort(this.ctx)}/readyz`)).status;
    if (this.server) await new Promise((r) => this.server!.close(r));
  }
}

function httpPort(ctx: AdapterContext): number {
  const addr = (ctx.http as unknown as { server: Server }).server.address() as { port: number };
  return addr.port;
}

describe('platform/lifecycle', () => {
  it('hands adapters the core, config, auth, logger, HTTP host and resolved listen settings', async () => {
    const mqtt = new FakeAdapter('mqtt');
    const kafka = new FakeAdapter('kafka');
    const b = await startBroker({ protocols: [], extraAdapters: [mqtt, kafka], ports: { kafka: 0 } });
    try {
      assert.deepEqual(mqtt.events, ['init', 'start']);
      assert.equal(mqtt.ctx.broker, b.broker);
      assert.equal(mqtt.ctx.config, b.config);
      assert.equal(mqtt.ctx.auth, b.auth);
      assert.equal(mqtt.ctx.http, b.http);
      assert.deepEqual(mqtt.ctx.listen, { host: TEST_HOST, port: 0, tlsPort: null }, 'ephemeral = 0, no certificate = no TLS port');
      assert.deepEqual(kafka.ctx.listen, { host: TEST_HOST, port: null, tlsPort: null }, 'port 0 = disabled');
      assert.equal(mqtt.ctx.tls('mqtt'), null);
      assert.equal(typeof mqtt.ctx.log.info, 'function');
      assert.equal(b.ports.mqtt, (mqtt.server!.address() as { port: number }).port, 'bound port reported');
      assert.equal(b.ports.kafka, undefined);
      assert.ok(b.ports.http! > 0);
      assert.deepEqual(b.listeners.map((l) => l.name).sort(), ['http', 'mqtt']);
    } finally {
      await b.close();
    }
    assert.deepEqual(mqtt.events, ['init', 'start', 'stop']);
  });

  it('/readyz is 503 while adapters start and while they stop', async () => {
    const a = new FakeAdapter('mqtt');
    const b = await startBroker({ protocols: [], extraAdapters: [a] });
    assert.equal(a.readyDuringStart, 503);
    assert.equal((await fetch(`http://${TEST_HOST}:${b.ports.http}/readyz`)).status, 200);
    await b.close();
    assert.equal(a.readyDuringStop, 503);
  });

  it('close() is idempotent', async () => {
    const b = await startBroker({ protocols: [] });
    const first = b.close();
    assert.equal(b.close(), first);
    await first;
  });

  it('a failing adapter start stops what had started and rejects', async () => {
    const good = new FakeAdapter('mqtt');
    const bad = new FakeAdapter('amqp', { failStart: true });
    await assert.rejects(startBroker({ protocols: [], extraAdapters: [good, bad] }), /amqp cannot start/);
    assert.deepEqual(good.events, ['init', 'start', 'stop']);
    assert.equal(good.server?.listening, false);
  });

  it('port 0 disables the HTTP listener', async () => {
    const b = await startBroker({ protocols: [], ports: { http: 0 } });
    try {
      assert.equal(b.http, null);
      assert.equal(b.ports.http, undefined);
    } finally {
      await b.close();
    }
  });

  it('a bad option rejects with a ConfigError before anything listens', async () => {
    await assert.rejects(startBroker({ storage: { fsync: 'sometimes' as 'always' } }), (e: unknown) => e instanceof ConfigError && e.key === 'storage.fsync');
  });

  it('keeps the embedded store in dataDir', async () => {
    const dir = tempDir();
    try {
      const b = await startBroker({ dataDir: join(dir, 'data'), protocols: [] });
      await b.broker.metadata.put('test', 'k', Buffer.from('v'));
      await b.close();
      assert.ok(existsSync(join(dir, 'data')));
      const again = await startBroker({ dataDir: join(dir, 'data'), protocols: [] });
      assert.equal(again.broker.metadata.get('test', 'k')?.toString(), 'v', 'metadata survived the restart');
      await again.close();
    } finally {
      removeTempDir(dir);
    }
  });

  it('the adapter registry loads the adapters that exist and skips the rest', async () => {
    for (const name of ADAPTER_NAMES) {
      const a = await adapterFactories[name]();
      if (a) assert.equal(a.name, name);
    }
    const loaded = await loadAdapters();
    assert.ok(loaded.every((a) => (ADAPTER_NAMES as readonly string[]).includes(a.name)));
  });
});

describe('platform/lifecycle: adapter configuration errors', () => {
  it("an extra adapter's settingsSchema is validated and defaulted by the platform, before init", async () => {
    const seen: unknown[] = [];
    const widget: ProtocolAdapter = {
      name: 'widget',
      settingsSchema: {
        type: 'object',
        additionalProperties: false,
        properties: { widgets: { type: 'integer', minimum: 1, default: 3 }, label: { type: 'string', default: 'w' } },
      },
      init: async (ctx) => {
        seen.push(ctx.config.widget);
      },
      start: async () => [],
      stop: async () => undefined,
    };
    await assert.rejects(startBroker({ protocols: [], extraAdapters: [widget], ...({ widget: { widgets: 0 } } as object) }), (e: unknown) => e instanceof ConfigError && e.message === 'widget.widgets: must be an integer >= 1 (got 0)');
    await assert.rejects(
      startBroker({ protocols: [], extraAdapters: [widget], ...({ widget: { gadgets: 1 } } as object) }),
      (e: unknown) => e instanceof ConfigError && e.message === 'widget.gadgets: unknown key (allowed in widget: widgets, label)',
    );
    assert.deepEqual(seen, [], 'init never ran with a bad section');
    const b = await startBroker({ protocols: [], extraAdapters: [widget] });
    await b.close();
    assert.deepEqual(seen, [{ widgets: 3, label: 'w' }]);
  });
});
