import { createReadStream, existsSync, readdirSync, statSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { dirname, extname, join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Where the web UI is served on the HTTP port. */
export const WEB_UI_PREFIX = '/ui';

/** The built UI (`npm run build` bundles apps/web into apps/web/dist), next to this app in both layouts. */
export const WEB_UI_DIR = join(dirname(fileURLToPath(import.meta.url)), '../../../web/dist');

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.woff2': 'font/woff2',
  '.json': 'application/json; charset=utf-8',
};

/**
 * What every answer of the UI carries: the page may load only its own scripts and styles and talk
 * only to its own origin (the browser API), may not be framed, and sends no referrer.
 */
const SECURITY_HEADERS: Record<string, string> = {
  'content-security-policy':
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
};

/**
 * Serves the web UI's static files under {@link WEB_UI_PREFIX}: content-hashed assets cached for a
 * year, `index.html` revalidated on every load (so a new release is picked up at once) and answered
 * for every other path under /ui (the UI's own routes, so deep links and reloads work). Only files
 * found in the build directory at startup are served: a path never reaches the file system.
 * `GET /` redirects to the UI. The UI holds no data: what it shows comes through the browser API,
 * with the signed-in user's token.
 */
export class WebUi {
  private readonly files = new Map<string, string>();
  private readonly built: boolean;

  constructor(private readonly dir: string = WEB_UI_DIR) {
    this.built = existsSync(join(dir, 'index.html'));
    if (this.built) this.index(dir);
  }

  private index(dir: string): void {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) this.index(path);
      else if (entry.isFile()) this.files.set(`/${relative(this.dir, path).split(sep).join('/')}`, path);
    }
  }

  /** Express middleware: serves `/` and `/ui…`, passes everything else on. */
  middleware(): (req: IncomingMessage & { route?: { path?: string } }, res: ServerResponse, next: () => void) => void {
    return (req, res, next) => {
      const path = (req.url ?? '/').split('?')[0]!;
      if (path !== '/' && path !== WEB_UI_PREFIX && !path.startsWith(`${WEB_UI_PREFIX}/`)) return next();
      req.route = { path: path.startsWith(`${WEB_UI_PREFIX}/assets/`) ? `${WEB_UI_PREFIX}/assets` : WEB_UI_PREFIX }; // the HTTP metrics' route label
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain; charset=utf-8' });
        return void res.end('the web UI answers GET only\n');
      }
      if (path === '/' || path === WEB_UI_PREFIX) {
        res.writeHead(302, { location: `${WEB_UI_PREFIX}/` });
        return void res.end();
      }
      if (!this.built) {
        res.writeHead(503, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' });
        return void res.end('the web UI is not built: run `npm run build` (it bundles apps/web into apps/web/dist)\n');
      }
      const relativePath = path.slice(WEB_UI_PREFIX.length);
      const asset = relativePath.startsWith('/assets/') ? this.files.get(relativePath) : undefined;
      if (relativePath.startsWith('/assets/') && !asset) {
        res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8', ...SECURITY_HEADERS });
        return void res.end('no such file\n');
      }
      const file = asset ?? this.files.get('/index.html')!;
      res.writeHead(200, {
        'content-type': TYPES[extname(file)] ?? 'application/octet-stream',
        'content-length': String(statSync(file).size),
        // Asset names carry a hash of their content; index.html must be checked again every time.
        'cache-control': asset ? 'public, max-age=31536000, immutable' : 'no-cache',
        ...SECURITY_HEADERS,
      });
      if (req.method === 'HEAD') return void res.end();
      createReadStream(file).pipe(res);
    };
  }
}
