/**
 * Stream management (XEP-0198) on the connection's side: enable, `<r/>` / `<a h/>` counting and
 * resumption of a hibernating session. The session keeps the counters and the unacknowledged
 * stanzas (session.ts); the hub keeps resumable sessions by id.
 */
import type { Hub } from './hub.js';
import { NS } from './ns.js';
import type { Session } from './session.js';
import { escapeAttr, type XElement } from './xml.js';

/** What stream management needs of its connection. */
export interface SmHost {
  readonly hub: Hub;
  readonly smResumeTimeoutMs: number;
  write(data: string): void;
  streamError(condition: string, text?: string): void;
}

export function smFailed(condition: string): string {
  return `<failed xmlns='${NS.sm}'><${condition} xmlns='${NS.stanzas}'/></failed>`;
}

/** `<resume/>` before binding: the session to take over, or null (a failure was written). */
export function resumeSession(host: SmHost, el: XElement, bare: string): Session | null {
  const previd = el.attr('previd') ?? '';
  const h = Number(el.attr('h'));
  const s = host.hub.resumable(previd, bare);
  if (!s || !Number.isInteger(h) || h < 0) {
    host.write(smFailed('item-not-found'));
    return null;
  }
  if (!s.acknowledge(h)) {
    host.write(smFailed('unexpected-request'));
    return null;
  }
  host.write(`<resumed xmlns='${NS.sm}' previd='${escapeAttr(previd)}' h='${s.inH}'/>`);
  return s;
}

/** An element in the XEP-0198 namespace from a bound session. */
export function onSm(host: SmHost, s: Session, el: XElement): void {
  switch (el.local) {
    case 'r':
      if (s.smEnabled) host.write(`<a xmlns='${NS.sm}' h='${s.inH}'/>`);
      return;
    case 'a': {
      const h = Number(el.attr('h'));
      if (!s.smEnabled || !Number.isInteger(h) || h < 0) return;
      // XEP-0198 section 4: the stream ends, with both counts for the client's logs.
      if (!s.acknowledge(h)) host.streamError('undefined-condition', `You acknowledged ${h} stanzas, but I only sent you ${s.outH} so far.`);
      return;
    }
    case 'enable': {
      if (s.smEnabled) return host.write(smFailed('unexpected-request'));
      const resume = el.attr('resume') === 'true' || el.attr('resume') === '1';
      s.enableSm(resume);
      if (resume) host.hub.bySmId.set(s.id, s);
      const max = Math.floor(host.smResumeTimeoutMs / 1000);
      host.write(resume ? `<enabled xmlns='${NS.sm}' id='${s.id}' resume='true' max='${max}'/>` : `<enabled xmlns='${NS.sm}'/>`);
      return;
    }
    case 'resume':
      return host.write(smFailed('unexpected-request'));
    default:
      return;
  }
}
