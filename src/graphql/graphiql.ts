import { dirname, join } from 'node:path';
import { Router } from 'express';
import type { NextFunction, Request, Response } from 'express';

/**
 * GraphiQL served from Backplane itself. The hosts it runs on reach no CDN, so Apollo's
 * landing page cannot load; every script and style here comes from node_modules or this file.
 */
export interface GraphiqlOptions {
  /** Path, within the router's mount point, that the page lives at and that GraphiQL POSTs to. */
  endpoint: string;
}

const ASSET_PREFIX = '/graphiql';

/** Loaded by the page after React and GraphiQL, so the CSP can stay at script-src 'self'. */
const BOOTSTRAP_JS = `(function () {
  'use strict';
  var root = document.getElementById('graphiql');
  var fetcher = GraphiQL.createFetcher({ url: root.getAttribute('data-endpoint') });
  ReactDOM.createRoot(root).render(
    React.createElement(GraphiQL, {
      fetcher: fetcher,
      isHeadersEditorEnabled: true,
      defaultHeaders: JSON.stringify({ Authorization: 'Bearer ' }, null, 2),
      // A bearer token in localStorage would outlive the tab and be readable by any script on the origin.
      shouldPersistHeaders: false,
    }),
  );
})();
`;

const PAGE_CSS = `html, body { height: 100%; margin: 0; }
#graphiql { height: 100vh; }
`;

/**
 * 'unsafe-inline' for styles only: GraphiQL's dialogs inject <style> elements at runtime.
 * Fonts and icons in graphiql.min.css are data: URLs.
 */
const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "font-src 'self' data:",
  "img-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

const JS = 'text/javascript; charset=utf-8';
const CSS = 'text/css; charset=utf-8';

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
    ['/bootstrap.js', { type: JS, body: BOOTSTRAP_JS }],
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
<link rel="stylesheet" href="${escapeHtml(`${assets}/graphiql.min.css`)}">
<link rel="stylesheet" href="${escapeHtml(`${assets}/page.css`)}">
</head>
<body>
<div id="graphiql" data-endpoint="${escapeHtml(endpoint)}">Loading GraphiQL…</div>
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
