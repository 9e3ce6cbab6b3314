/**
 * A throw-away certificate authority for TLS tests (openssl): a server certificate for 127.0.0.1
 * and localhost, and client certificates whose common name is the user (SASL EXTERNAL).
 */
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface TestPki {
  dir: string;
  ca: string;
  serverCert: string;
  serverKey: string;
  /** Paths of a client certificate and key for `cn`, signed by the CA. */
  client(cn: string): { cert: string; key: string };
}

function openssl(args: string[], cwd: string): void {
  execFileSync('openssl', args, { cwd, stdio: 'ignore' });
}

function signed(dir: string, name: string, subject: string, ext?: string): void {
  openssl(['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', subject], dir);
  const extArgs = ext ? ['-extfile', `${name}.ext`] : [];
  if (ext) writeFileSync(join(dir, `${name}.ext`), ext);
  openssl(['x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', `${name}.pem`, '-days', '2', ...extArgs], dir);
}

/** Creates the CA and the server certificate in `dir` (which must exist). */
export function createTestPki(dir: string): TestPki {
  openssl(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2', '-subj', '/CN=Junction Test CA'], dir);
  signed(dir, 'server', '/CN=localhost', 'subjectAltName=DNS:localhost,IP:127.0.0.1\n');
  return {
    dir,
    ca: join(dir, 'ca.pem'),
    serverCert: join(dir, 'server.pem'),
    serverKey: join(dir, 'server.key'),
    client(cn: string) {
      signed(dir, `client-${cn}`, `/CN=${cn}`);
      return { cert: join(dir, `client-${cn}.pem`), key: join(dir, `client-${cn}.key`) };
    },
  };
}
