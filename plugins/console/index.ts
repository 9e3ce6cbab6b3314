/**
 * The web console: one static page at `/` (console.html) with its script and style under
 * `/console/`, plain HTML and vanilla JavaScript read from this directory (no build step, no
 * external assets). The page reads the admin API; access is checked as for the API.
 */
import { readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { HttpHost } from '../../core/adapter.js';
import { AccessGuard, replyError, type AdminContext } from '../admin/index.js';

const ASSETS: Array<{ path: string; file: string; type: string }> = [
  { path: '/', file: 'console.html', type: 'text/html; charset=utf-8' },
  { path: '/console/app.js', file: 'console.js', type: 'text/javascript; charset=utf-8' },
  { path: '/console/style.css', file: 'console.css', type: 'text/css; charset=utf-8' },
];

/** Scripts and styles from this origin only; nothing may frame the page. */
const CSP = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/**
 * Where the asset files are: next to this module when run from source, or in the source tree
 * (`plugins/console/`) when run from the compiled `dist/plugins/console/`.
 */
export function consoleAssetDir(): string | null {
  const here = dirname(fileURLToPath(import.meta.url));
  for (const dir of [here, join(here, '..', '..', '..', 'plugins', 'console')]) {
    try {
      readFileSync(join(dir, 'console.html'));
      return dir;
    } catch {
      // try the next place
    }
  }
  return null;
}

/** Mounts the console; returns false (and mounts nothing) when the asset files are missing. */
export function mountConsole(http: HttpHost, ctx: AdminContext, guard = new AccessGuard(ctx.auth)): boolean {
  const dir = consoleAssetDir();
  if (!dir) {
    ctx.log.warn({}, 'web console files not found; the console is not served');
    return false;
  }
  for (const asset of ASSETS) {
    const body = readFileSync(join(dir, asset.file));
    const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
      try {
        await guard.check(req);
        res.writeHead(200, {
          'content-type': asset.type,
          'content-length': body.length,
          'cache-control': 'no-cache',
          'content-security-policy': CSP,
          'x-content-type-options': 'nosniff',
          'x-frame-options': 'DENY',
          'referrer-policy': 'no-referrer',
        });
        res.end(req.method === 'HEAD' ? undefined : body);
      } catch (err) {
        replyError(ctx, req, res, err);
      }
    };
    http.route('GET', asset.path, handle);
  }
  return true;
}
