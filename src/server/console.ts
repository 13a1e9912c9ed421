import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { Router, type NextFunction, type Request, type Response } from 'express';
import { selfOnlyContentSecurityPolicy } from '../graphql/graphiql';

/**
 * The console (a web page, a client of the public GraphQL API like any other) at `/`, its assets
 * under /console/. They are built into dist/console by `npm run build` (scripts/build-console.mjs),
 * with a gzip and a brotli copy of each, and nothing is loaded from outside: the hosts Backplane
 * runs on often reach no CDN.
 */
export const CONSOLE_ASSET_PREFIX = '/console';

/**
 * No inline script or style at all: React sets the timeline's positions through the CSSOM
 * (element.style), which a style-src without 'unsafe-inline' allows.
 */
const CONTENT_SECURITY_POLICY = selfOnlyContentSecurityPolicy();

// A Map, not an object literal, so that names such as "constructor" or "__proto__" find nothing.
const ASSETS = new Map<string, string>([
  ['/app.js', 'text/javascript; charset=utf-8'],
  ['/app.css', 'text/css; charset=utf-8'],
  ['/favicon.svg', 'image/svg+xml'],
]);

const PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Backplane</title>
<link rel="icon" href="${CONSOLE_ASSET_PREFIX}/favicon.svg">
<link rel="stylesheet" href="${CONSOLE_ASSET_PREFIX}/app.css">
<script src="${CONSOLE_ASSET_PREFIX}/app.js" defer></script>
</head>
<body>
<div id="root"></div>
<noscript>The Backplane console needs JavaScript. GraphiQL is at /graphql.</noscript>
</body>
</html>
`;

const NOT_BUILT = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Backplane</title></head>
<body><h1>The console is not built</h1><p>Run <code>npm run build</code> (or <code>npm start</code>), then reload. GraphiQL is at <a href="/graphql">/graphql</a>.</p></body></html>
`;

const HEADERS = { 'X-Content-Type-Options': 'nosniff', 'Referrer-Policy': 'no-referrer' };

export function consoleRouter(options: { dir?: string } = {}): Router {
  const dir = options.dir ?? join(packageRoot(), 'dist', 'console');
  const router = Router();

  router.get('/', (_req: Request, res: Response) => {
    const built = existsSync(join(dir, 'app.js'));
    res
      .status(built ? 200 : 503)
      .set({ ...HEADERS, 'Content-Type': 'text/html; charset=utf-8', 'Content-Security-Policy': CONTENT_SECURITY_POLICY, 'Cache-Control': 'no-cache' })
      .send(built ? PAGE : NOT_BUILT);
  });

  // The whole prefix belongs to this router: a name outside the allow-list ends here as 404.
  router.use(CONSOLE_ASSET_PREFIX, (req: Request, res: Response, next: NextFunction) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') return next();
    const type = ASSETS.get(req.path);
    if (!type) {
      res.status(404).type('text/plain').send('Not found');
      return;
    }
    const encoding = req.acceptsEncodings('br', 'gzip', 'identity');
    const suffix = encoding === 'br' ? '.br' : encoding === 'gzip' ? '.gz' : '';
    const file = join(dir, req.path.slice(1) + suffix);
    if (!existsSync(file)) {
      res.status(404).type('text/plain').send('Not found');
      return;
    }
    res.vary('Accept-Encoding').set({ ...HEADERS, 'Content-Type': type });
    if (suffix) res.set('Content-Encoding', encoding as string);
    // The URLs carry no version: the browser revalidates (ETag) so that an upgrade shows at once.
    res.sendFile(file, { headers: { 'Cache-Control': 'no-cache' } }, (error) => {
      if (error && !res.headersSent) next(error);
    });
  });

  return router;
}

/** The folder of Backplane's package.json: dist/ sits beside it, whether this file runs compiled or from src. */
function packageRoot(): string {
  let dir = __dirname;
  while (!existsSync(join(dir, 'package.json'))) {
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`no package.json above ${__dirname}`);
    dir = parent;
  }
  return dir;
}
