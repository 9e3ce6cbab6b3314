/**
 * XMPP addresses (RFC 7622): `[local@]domain[/resource]`. Local and domain parts compare
 * case-insensitively (lower-cased here, the common subset of the PRECIS profiles); the resource is
 * kept as given. Parsing is strict: a malformed address is a `jid-malformed` error, never guessed.
 *
 * @xmpp/jid is not used for parsing because it silently applies XEP-0106 escaping to a local part
 * that contains a space or quote, which turns a malformed address into a different valid one.
 */

export class Jid {
  private bareCache?: string;
  private fullCache?: string;

  constructor(readonly local: string, readonly domain: string, readonly resource: string) {}

  get bare(): string {
    return (this.bareCache ??= this.local ? `${this.local}@${this.domain}` : this.domain);
  }

  get full(): string {
    return (this.fullCache ??= this.resource ? `${this.bare}/${this.resource}` : this.bare);
  }

  toString(): string {
    return this.full;
  }

  withResource(resource: string): Jid {
    return new Jid(this.local, this.domain, resource);
  }

  bareJid(): Jid {
    return this.resource ? new Jid(this.local, this.domain, '') : this;
  }
}

// RFC 7622 3.3.1: these may not appear in a local part.
const LOCAL_FORBIDDEN = /["&'/:<>@\s]/u;
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f]/u;
const MAX_PART = 1023;

function byteLength(s: string): number {
  return Buffer.byteLength(s, 'utf8');
}

export function isValidLocal(local: string): boolean {
  return local.length > 0 && byteLength(local) <= MAX_PART && !LOCAL_FORBIDDEN.test(local) && !CONTROL.test(local);
}

/** Parses an address; null when malformed. */
export function parseJid(text: string): Jid | null {
  if (text.length === 0 || text.length > 3071) return null;
  const slash = text.indexOf('/');
  const resource = slash >= 0 ? text.slice(slash + 1) : '';
  const head = slash >= 0 ? text.slice(0, slash) : text;
  if (slash >= 0 && (resource.length === 0 || byteLength(resource) > MAX_PART || CONTROL.test(resource))) return null;
  const at = head.indexOf('@');
  const local = at >= 0 ? head.slice(0, at) : '';
  let domain = at >= 0 ? head.slice(at + 1) : head;
  if (at >= 0 && !isValidLocal(local)) return null;
  if (domain.endsWith('.')) domain = domain.slice(0, -1);
  if (domain.length === 0 || byteLength(domain) > MAX_PART || /[\s@/"&'<>]/u.test(domain) || CONTROL.test(domain)) return null;
  return new Jid(local.toLowerCase(), domain.toLowerCase(), resource.normalize('NFC'));
}

/** Normalises a user name as an XMPP local part; null when it cannot be one. */
export function normaliseLocal(user: string): string | null {
  const l = user.normalize('NFKC').toLowerCase();
  return isValidLocal(l) ? l : null;
}
