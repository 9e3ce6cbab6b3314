import type { TLSSocket } from 'node:tls';

/**
 * A TLSSocket made for STARTTLS (not by a tls.Server) never sets `authorized` nor refuses a bad
 * client certificate; this does what node's server does (lib/_tls_wrap.js onServerSocketSecure),
 * so SASL EXTERNAL sees a verified certificate. False when the socket was destroyed.
 */
export function checkClientCertificate(socket: TLSSocket, reject: boolean): boolean {
  const handle = (socket as unknown as { _handle?: { verifyError?(): Error | null } })._handle;
  const err = handle?.verifyError ? handle.verifyError() : new Error('no TLS handle');
  if (!err) {
    socket.authorized = true;
    return true;
  }
  socket.authorizationError = err;
  if (!reject) return true;
  socket.destroy();
  return false;
}
