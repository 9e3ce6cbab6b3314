/** STOMP listeners and settings: TLS with a certificate, disabled plain port, config checks. */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import { resolveStompSettings, STOMP_DEFAULTS } from '../../adapters/stomp/config.js';
import createAdapter, { StompAdapter } from '../../adapters/stomp/index.js';
import { removeTempDir, requireDebianClient, tempDir, TEST_HOST } from '../support/index.js';
import { startStomp } from './helpers.js';

describe('STOMP listeners and settings', () => {
  it('exports createAdapter() and the class', () => {
    const a = createAdapter();
    assert.ok(a instanceof StompAdapter);
    assert.equal(a.name, 'stomp');
  });

  it('settings: defaults, overrides, and one clear error naming the key', () => {
    assert.deepEqual(resolveStompSettings(undefined), { ...STOMP_DEFAULTS });
    assert.equal(resolveStompSettings({ maxFrameSize: 1024, port: 61613 }).maxFrameSize, 1024);
    assert.throws(() => resolveStompSettings({ maxFrameSize: 'big' }), /stomp\.maxFrameSize/);
    assert.throws(() => resolveStompSettings({ maxHeaders: 0 }), /^ConfigError: stomp\.maxHeaders: must be an integer >= 1 \(got 0\)$/);
    assert.throws(() => resolveStompSettings({ heartbeatGrace: 0.5 }), /stomp\.heartbeatGrace: must be a number >= 1/);
    assert.throws(() => resolveStompSettings({ heartbeatMinMs: 5000, heartbeatMaxMs: 1000 }), /^ConfigError: stomp\.heartbeatMaxMs: must be an integer >= stomp\.heartbeatMinMs \(got 1000\)$/);
    assert.throws(() => resolveStompSettings({ connectTimeoutMs: 500 }), /^ConfigError: stomp\.connectTimeoutMs: unknown key/, 'the undocumented older name is gone');
  });

  describe('TLS', () => {
    let dir: string;
    let cert: string;
    let key: string;
    before(requireDebianClient('openssl', 'openssl'));
    before(() => {
      dir = tempDir('junction-stomp-tls-');
      cert = join(dir, 'cert.pem');
      key = join(dir, 'key.pem');
      execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '2', '-subj', '/CN=localhost'], { stdio: 'ignore' });
    });
    after(() => dir && removeTempDir(dir));

    it('serves STOMP over TLS on the TLS port when a certificate is configured', async () => {
      const s = await startStomp({ stomp: { tls: { cert, key } } as never });
      try {
        const tlsPort = s.b.ports['stomp-tls'];
        assert.ok(tlsPort, `TLS listener: ${JSON.stringify(s.b.listeners)}`);
        const frame = await new Promise<string>((resolve, reject) => {
          const sock = tlsConnect({ host: TEST_HOST, port: tlsPort, ca: readFileSync(cert), servername: 'localhost' }, () => {
            sock.write('CONNECT\naccept-version:1.2\nhost:/\n\n\0');
          });
          let data = '';
          sock.on('data', (d) => {
            data += d;
            if (data.includes('\0')) {
              sock.end();
              resolve(data);
            }
          });
          sock.on('error', reject);
        });
        assert.match(frame, /^CONNECTED\n/);
      } finally {
        await s.close();
      }
    });
  });

  it('port 0 disables the plain listener', async () => {
    const s = await startStomp({ ports: { stomp: 0 } });
    try {
      assert.equal(s.b.ports.stomp, undefined);
    } finally {
      await s.close();
    }
  });
});
