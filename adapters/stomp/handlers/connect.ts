/** CONNECT / STOMP: version negotiation, heart-beats, login through the auth plugin, client-id. */
import { SUPPORTED_VERSIONS, type StompFrame, type StompVersion } from '../frame.js';
import type { StompContext } from '../context.js';
import { StompError, StompLoginRefused } from '../errors.js';

const SERVER = 'Junction/0.1.0';

export function negotiateVersion(acceptVersion: string | undefined): StompVersion | null {
  if (acceptVersion === undefined) return '1.0';
  let best: StompVersion | null = null;
  for (const raw of acceptVersion.split(',')) {
    const v = raw.trim() as StompVersion;
    if (SUPPORTED_VERSIONS.includes(v) && (best === null || v > best)) best = v;
  }
  return best;
}

function parseHeartBeat(value: string | undefined): [number, number] {
  if (value === undefined) return [0, 0];
  const parts = value.split(',');
  if (parts.length !== 2) throw new StompError(`invalid heart-beat header "${value.slice(0, 64)}"`);
  const nums = parts.map((p) => {
    const t = p.trim();
    const n = Number(t);
    if (t === '' || !Number.isSafeInteger(n) || n < 0) throw new StompError(`invalid heart-beat header "${value.slice(0, 64)}"`);
    return n;
  });
  return [nums[0], nums[1]];
}

export async function connect(conn: StompContext, frame: StompFrame): Promise<void> {
  if (conn.state !== 'new') throw new StompError('already connected');
  const h = frame.headers;
  const version = negotiateVersion(h['accept-version']);
  if (version === null) {
    throw new StompError('Supported protocol versions are 1.0 1.1 1.2', `accept-version "${h['accept-version']}" names no supported version`, { version: SUPPORTED_VERSIONS.join(',') });
  }
  conn.setVersion(version);
  const [cx, cy] = version === '1.0' ? [0, 0] : parseHeartBeat(h['heart-beat']);
  conn.state = 'connecting';
  const principal = await conn.adapter.auth.authenticate('stomp', h.login, h.passcode, addressOf(conn.transport.remote));
  // Closed while the login was checked (timeout, shutdown): nothing may start on it now.
  if (conn.state !== 'connecting') return;
  if (!principal) throw new StompLoginRefused('access refused', 'bad login or passcode');
  conn.principal = principal;
  // Counted for its user before CONNECTED (limits.maxConnectionsPerUser); the registry logs refusals.
  if (!conn.client.claimUser(principal.anonymous ? null : principal.user)) throw new StompLoginRefused('too many connections', 'too many connections for this user');
  const clientId = h['client-id'];
  if (clientId !== undefined && clientId !== '') {
    if (!conn.adapter.claimClientId(clientId, conn)) throw new StompError('client-id in use', `client-id "${clientId.slice(0, 128)}" is connected already`);
    conn.clientId = clientId;
  }
  const [sx, sy] = conn.connected(cx, cy);
  const headers: Record<string, string> = { version, server: SERVER, session: conn.id };
  if (version !== '1.0') headers['heart-beat'] = `${sx},${sy}`;
  conn.sendFrame('CONNECTED', headers);
  conn.log.debug({ version, user: principal.user }, 'STOMP connected');
}

/** The IP address of `remote` ("address:port"): failed logins are limited per address. */
function addressOf(remote: string): string {
  const colon = remote.lastIndexOf(':');
  return colon > 0 ? remote.slice(0, colon) : remote;
}
