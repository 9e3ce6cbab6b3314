/** A self-signed certificate for TLS tests (Debian `openssl`; guard the suite with requireDebianClient('openssl')). */
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';

/** Writes `key.pem` and `cert.pem` (CN and SAN localhost, 127.0.0.1) into `dir`; returns their paths. */
export function selfSignedCert(dir: string): { cert: string; key: string } {
  const cert = join(dir, 'cert.pem');
  const key = join(dir, 'key.pem');
  execFileSync('openssl', [
    'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '2',
    '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1',
  ], { stdio: 'ignore' });
  return { cert, key };
}
