/**
 * Who may use the admin API, the metrics and the console. Credentials come as HTTP Basic and are
 * checked by the auth plugin (protocol 'http'); the principal then needs the `admin` action on
 * address `#`: a user flagged admin in the users file, or an admin rule. With no users configured,
 * anonymous access allowed and no rules (dev mode), it is open (see docs/admin.md).
 *
 * Browsers keep Basic credentials and send them with cross-site requests too, so a state-changing
 * request (anything but GET/HEAD) that carries a foreign `Origin` is refused: another web page
 * cannot make a logged-in browser purge a queue.
 */
import type { IncomingMessage } from 'node:http';
import type { AuthPlugin, Principal } from '../../core/adapter.js';
import { HttpError } from './http-util.js';

export const REALM = 'Junction';
const CHALLENGE = { 'www-authenticate': `Basic realm="${REALM}", charset="UTF-8"` };

export interface Credentials {
  user: string;
  password: string;
}

/** Parses `Authorization: Basic ...`; undefined when absent, HttpError 401 when malformed. */
export function parseBasicAuth(header: string | undefined): Credentials | undefined {
  if (header === undefined) return undefined;
  const m = /^Basic[ \t]+([A-Za-z0-9+/=._~-]+)[ \t]*$/i.exec(header);
  if (!m) throw new HttpError(401, 'malformed Authorization header (HTTP Basic expected)', CHALLENGE);
  const decoded = Buffer.from(m[1], 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) throw new HttpError(401, 'malformed Basic credentials', CHALLENGE);
  return { user: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}

export class AccessGuard {
  constructor(private readonly auth: AuthPlugin) {}

  /** Throws HttpError 401/403 unless the request may administer the broker; returns its principal. */
  async check(req: IncomingMessage): Promise<Principal> {
    const creds = parseBasicAuth(req.headers.authorization);
    const principal = creds
      ? await this.auth.authenticate('http', creds.user, creds.password, req.socket.remoteAddress)
      : await this.auth.authenticate('http', undefined, undefined);
    if (!principal) {
      throw new HttpError(401, creds ? 'invalid credentials' : 'authentication required', CHALLENGE);
    }
    if (!this.auth.authorise(principal, 'admin', '#')) {
      // Anonymous and refused: ask for credentials, so a browser shows its login dialog.
      if (principal.anonymous) throw new HttpError(401, 'authentication required', CHALLENGE);
      throw new HttpError(403, `user ${JSON.stringify(principal.user)} may not administer the broker`);
    }
    if (isUnsafe(req.method) && !sameOrigin(req)) throw new HttpError(403, 'cross-origin request refused');
    return principal;
  }
}

function isUnsafe(method: string | undefined): boolean {
  return method !== 'GET' && method !== 'HEAD' && method !== 'OPTIONS';
}

/** No Origin (curl, scripts) or an Origin naming this very host. */
function sameOrigin(req: IncomingMessage): boolean {
  const origin = req.headers.origin?.toLowerCase();
  if (origin === undefined) return true;
  const host = req.headers.host?.toLowerCase();
  if (!host) return false;
  return origin === `http://${host}` || origin === `https://${host}`;
}
