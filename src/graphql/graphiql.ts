import { dirname, join } from 'node:path';
import { Router } from 'express';
import type { NextFunction, Request, Response } from 'express';
import { GRAPHIQL_BOOTSTRAP_JS } from './graphiql-bootstrap';

/**
 * GraphiQL served from Backplane itself. The hosts it runs on reach no CDN, so Apollo's
 * landing page cannot load; every script and style here comes from node_modules or this file.
 */
export interface GraphiqlOptions {
  /** Path, within the router's mount point, that the page lives at and that GraphiQL POSTs to. */
  endpoint: string;
}

const ASSET_PREFIX = '/graphiql';

const PAGE_CSS = `html, body { height: 100%; margin: 0; }
body { display: flex; flex-direction: column; font-family: system-ui, sans-serif; }
[hidden] { display: none !important; }
#graphiql { flex: 1; min-height: 0; }
#bar { display: flex; justify-content: space-between; align-items: center; padding: 4px 12px; border-bottom: 1px solid #ddd; }
#signin { margin: 15vh auto 0; width: min(28rem, 90vw); display: flex; flex-direction: column; gap: 8px; }
#signin input { font: inherit; padding: 6px; }
#signin-message { min-height: 1.5em; color: #b00020; }
.hint { color: #555; font-size: 0.9em; }
`;

/**
 * The policy of a page Backplane serves itself: everything from this server, nothing from outside,
 * no framing, no form posts, no <base>. `widen` replaces or adds directives, one page at a time.
 */
export function selfOnlyContentSecurityPolicy(widen: Record<string, string> = {}): string {
  const directives = {
    'default-src': "'none'",
    'script-src': "'self'",
    'style-src': "'self'",
    'img-src': "'self' data:",
    'connect-src': "'self'",
    'base-uri': "'none'",
    'form-action': "'none'",
    'frame-ancestors': "'none'",
    ...widen,
  };
  return Object.entries(directives)
    .map(([name, sources]) => `${name} ${sources}`)
    .join('; ');
}

/**
 * 'unsafe-inline' for styles only: GraphiQL's dialogs inject <style> elements at runtime.
 * Fonts and icons in graphiql.min.css are data: URLs.
 */
const CONTENT_SECURITY_POLICY = selfOnlyContentSecurityPolicy({ 'style-src': "'self' 'unsafe-inline'", 'font-src': "'self' data:" });

const JS = 'text/javascript; charset=utf-8';
const CSS = 'text/css; charset=utf-8';
const SVG = 'image/svg+xml';

/** Named by the page, so that the browser does not ask for /favicon.ico and log its 404 as an error. */
const FAVICON_SVG = `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 16 16"><rect width="16" height="16" rx="3" fill="#e10098"/></svg>
`;

type Asset = { type: string; file: string } | { type: string; body: string };

export function graphiqlRouter(options: GraphiqlOptions): Router {
  const endpoint = checkedEndpoint(options.endpoint);
  // A Map, not an object literal, so that names such as "constructor" or "__proto__" find nothing.
  const assets = new Map<string, Asset>([
    ['/react.production.min.js', { type: JS, file: packageFile('react', 'umd/react.production.min.js') }],
    ['/react-dom.production.min.js', { type: JS, file: packageFile('react-dom', 'umd/react-dom.production.min.js') }],
    ['/graphiql.min.js', { type: JS, file: packageFile('graphiql', 'graphiql.min.js') }],
    ['/graphiql.min.css', { type: CSS, file: packageFile('graphiql', 'graphiql.min.css') }],
    ['/page.css', { type: CSS, body: PAGE_CSS }],
    ['/bootstrap.js', { type: JS, body: GRAPHIQL_BOOTSTRAP_JS }],
    ['/favicon.svg', { type: SVG, body: FAVICON_SVG }],
  ]);

  const router = Router();

  router.get(endpoint, (req: Request, res: Response, next: NextFunction) => {
    // Vary on every answer at this URL: the same GET is a page for browsers and a GraphQL request otherwise.
    res.vary('Accept');
    // Without an Accept header, or with */*, the first type wins, so curl and GraphQL clients reach Apollo.
    if (req.accepts(['application/json', 'text/html']) !== 'text/html') return next();
    res
      .status(200)
      .set({
        'Content-Type': 'text/html; charset=utf-8',
        'Content-Security-Policy': CONTENT_SECURITY_POLICY,
        'X-Content-Type-Options': 'nosniff',
        'Referrer-Policy': 'no-referrer',
        'Cache-Control': 'no-cache',
      })
      .send(page(req.baseUrl + ASSET_PREFIX, req.baseUrl + endpoint));
  });

  // The whole prefix belongs to this router, so a name outside the allow-list ends here as 404
  // rather than falling through to handlers that might serve it.
  router.use(ASSET_PREFIX, (req: Request, res: Response, next: NextFunction) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') return next();
    const asset = assets.get(req.path);
    if (!asset) {
      res.status(404).type('text/plain').send('Not found');
      return;
    }
    res.set({ 'Content-Type': asset.type, 'X-Content-Type-Options': 'nosniff' });
    // URLs carry no version, so a day bounds how long a browser keeps a bundle after an upgrade.
    if ('body' in asset) {
      res.set('Cache-Control', 'public, max-age=86400').send(asset.body);
    } else {
      res.sendFile(asset.file, { maxAge: 86_400_000 }, (error) => {
        if (error && !res.headersSent) next(error);
      });
    }
  });

  return router;
}

function packageFile(pkg: string, file: string): string {
  // Through package.json because the packages' "exports" maps do not expose their browser bundles.
  return join(dirname(require.resolve(`${pkg}/package.json`)), file);
}

function checkedEndpoint(endpoint: string): string {
  // The page must only ever talk to this server: no scheme, no host, no protocol-relative "//".
  if (!/^\/(?![/\\])[^\s\\]*$/.test(endpoint) || endpoint.includes(':')) {
    throw new Error(`GraphiQL endpoint must be a path on this server, got ${JSON.stringify(endpoint)}`);
  }
  return endpoint;
}

function page(assets: string, endpoint: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Backplane GraphiQL</title>
<link rel="icon" href="${escapeHtml(`${assets}/favicon.svg`)}">
<link rel="stylesheet" href="${escapeHtml(`${assets}/graphiql.min.css`)}">
<link rel="stylesheet" href="${escapeHtml(`${assets}/page.css`)}">
</head>
<body>
<form id="signin" hidden>
<h1>Backplane GraphiQL</h1>
<label for="signin-token">API token</label>
<input id="signin-token" type="password" autocomplete="off" spellcheck="false" required>
<button type="submit">Sign in</button>
<p id="signin-message" role="alert"></p>
<p class="hint">The token is kept in this tab only, until you sign out or close it.</p>
</form>
<div id="bar" hidden><span>Backplane GraphiQL</span><button id="signout" type="button">Sign out</button></div>
<div id="graphiql" data-endpoint="${escapeHtml(endpoint)}" hidden></div>
<script src="${escapeHtml(`${assets}/react.production.min.js`)}"></script>
<script src="${escapeHtml(`${assets}/react-dom.production.min.js`)}"></script>
<script src="${escapeHtml(`${assets}/graphiql.min.js`)}"></script>
<script src="${escapeHtml(`${assets}/bootstrap.js`)}"></script>
</body>
</html>
`;
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
