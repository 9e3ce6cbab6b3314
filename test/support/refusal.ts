/**
 * Probes for sockets refused on accept (connection limit, connection rate): such a socket is closed
 * before the server writes a byte, before a TLS handshake, before a WebSocket upgrade is answered.
 */
import { connect as netConnect } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { TEST_HOST } from './broker.js';

/**
 * Connects, sends `send`, and resolves with what the server wrote before closing; '' = closed
 * without a byte. Resolves as soon as something arrives (and closes the socket then).
 */
export function firstBytes(port: number, send: string | Buffer = ''): Promise<string> {
  return new Promise((resolve) => {
    let got = '';
    const s = netConnect({ port, host: TEST_HOST }, () => { if (send.length > 0) s.write(send); });
    s.on('data', (d) => {
      got += d.toString('latin1');
      s.destroy();
      resolve(got);
    });
    s.on('error', () => undefined);
    s.on('close', () => resolve(got));
  });
}

/** True when a TLS handshake with the listener completes; false when the server drops the socket first. */
export function tlsHandshakes(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = tlsConnect({ port, host: TEST_HOST, rejectUnauthorized: false, servername: 'localhost' }, () => {
      s.destroy();
      resolve(true);
    });
    s.on('error', () => resolve(false));
    s.on('close', () => resolve(false));
  });
}

/** A WebSocket upgrade request for `path` with `protocol`: what the HTTP listener answered ('' = nothing, the socket closed). */
export function upgradeAnswer(httpPort: number, path: string, protocol: string): Promise<string> {
  const request = [
    `GET ${path} HTTP/1.1`, `Host: ${TEST_HOST}:${httpPort}`, 'Upgrade: websocket', 'Connection: Upgrade',
    'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==', 'Sec-WebSocket-Version: 13', `Sec-WebSocket-Protocol: ${protocol}`, '', '',
  ].join('\r\n');
  return firstBytes(httpPort, request);
}
