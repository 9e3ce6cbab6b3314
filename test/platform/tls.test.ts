import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { request } from 'node:https';
import { join } from 'node:path';
import { ConfigError, loadConfig } from '../../config/load.js';
import type { JunctionConfig } from '../../config/schema.js';
import type { AdapterContext, ProtocolAdapter } from '../../core/adapter.js';
import { createTlsResolver, loadTlsOptions } from '../../plugins/tls.js';
import { removeTempDir, requireDebianClient, selfSignedCert, startBroker, tempDir, TEST_HOST } from '../support/index.js';

function withTls(over: Record<string, unknown>): JunctionConfig {
  return loadConfig({ overrides: over });
}

function tlsError(config: JunctionConfig, listener: string): ConfigError {
  try {
    loadTlsOptions(config, listener);
  } catch (e) {
    assert.ok(e instanceof ConfigError);
    assert.ok(!e.message.includes('\n'));
    return e;
  }
  assert.fail('expected a ConfigError');
}

describe('platform/tls', () => {
  let dir: string;
  let cert: string;
  let key: string;
  before(requireDebianClient('openssl', 'openssl'));
  before(() => {
    dir = tempDir();
    ({ cert, key } = selfSignedCert(dir));
  });
  after(() => dir && removeTempDir(dir));

  it('no certificate: no TLS for any listener', () => {
    const resolve = createTlsResolver(loadConfig());
    for (const l of ['mqtt', 'amqp', 'stomp', 'xmpp', 'kafka', 'http']) assert.equal(resolve(l), null, l);
  });

  it('the global certificate applies to every protocol listener, read from files', () => {
    const c = withTls({ tls: { cert, key, requestClientCert: true } });
    const o = loadTlsOptions(c, 'mqtt')!;
    assert.deepEqual(o.cert, readFileSync(cert));
    assert.deepEqual(o.key, readFileSync(key));
    assert.equal(o.requestCert, true);
    assert.equal(o.rejectUnauthorized, false, 'true = ask, verify if sent');
    assert.ok(loadTlsOptions(c, 'kafka'));
    assert.equal(loadTlsOptions(c, 'http'), null, 'HTTP needs its own http.tls.cert');
  });

  it('a listener overrides the global settings key by key, and cert: null keeps it plain', () => {
    const c = withTls({ tls: { cert, key }, amqp: { tls: { requestClientCert: 'require', ca: readFileSync(cert, 'utf8') } }, stomp: { tls: { cert: null } } });
    const amqp = loadTlsOptions(c, 'amqp')!;
    assert.equal(amqp.requestCert, true);
    assert.equal(amqp.rejectUnauthorized, true);
    assert.ok(String(amqp.ca).includes('BEGIN CERTIFICATE'), 'PEM text accepted inline');
    assert.equal(loadTlsOptions(c, 'stomp'), null);
  });

  it('missing or unusable files are one-line config errors naming the key', () => {
    assert.equal(tlsError(withTls({ tls: { cert } }), 'mqtt').message, 'tls.key is required when tls.cert is set');
    assert.match(tlsError(withTls({ mqtt: { tls: { cert: join(dir, 'nope.pem'), key } } }), 'mqtt').message, /^mqtt\.tls\.cert: cannot read .*nope\.pem \(ENOENT\)$/);
    assert.match(tlsError(withTls({ tls: { cert: key, key } }), 'kafka').message, /^tls\.cert: the certificate, key or CA is not usable/);
  });

  it('adapters get a TLS port only when their listener has a certificate', async () => {
    const seen: Record<string, AdapterContext['listen']> = {};
    const probe = (name: string): ProtocolAdapter => ({
      name,
      init: async (ctx) => void (seen[name] = ctx.listen),
      start: async () => [],
      stop: async () => undefined,
    });
    const b = await startBroker({ tls: { cert, key }, stomp: { tls: { cert: null } }, protocols: [], extraAdapters: [probe('mqtt'), probe('stomp'), probe('xmpp')] });
    await b.close();
    assert.deepEqual(seen.mqtt, { host: TEST_HOST, port: 0, tlsPort: 0 });
    assert.equal(seen.stomp.tlsPort, null);
    assert.equal(seen.xmpp.tlsPort, null, 'XMPP uses STARTTLS on its port: ctx.tls(xmpp) has the settings');
  });

  it('the HTTP listener serves HTTPS with its own certificate', async () => {
    const b = await startBroker({ protocols: [], http: { tls: { cert, key } } });
    try {
      assert.equal(b.listeners.find((l) => l.name === 'http')?.tls, true);
      const status = await new Promise<number>((resolve, reject) => {
        const req = request({ host: TEST_HOST, port: b.ports.http, path: '/healthz', ca: readFileSync(cert) }, (res) => {
          res.resume();
          resolve(res.statusCode!);
        });
        req.on('error', reject);
        req.end();
      });
      assert.equal(status, 200);
    } finally {
      await b.close();
    }
  });
});
