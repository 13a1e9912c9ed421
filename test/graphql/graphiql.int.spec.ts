import { request as httpRequest } from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { graphiqlRouter } from '../../src/graphql/graphiql';

/** The offline GraphiQL page over real HTTP: everything it loads must come from this server. */
describe('graphiqlRouter', () => {
  let server: Server;
  let base: string;

  const BROWSER_ACCEPT = 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8';
  const get = (path: string, accept = BROWSER_ACCEPT) => fetch(base + path, { headers: { Accept: accept } });
  const references = (html: string) => [...html.matchAll(/\b(?:src|href)="([^"]*)"/g)].map((m) => m[1]!);
  const externalUrl = /\b(?:https?:|wss?:)?\/\/[a-z0-9.-]+/i;

  /** fetch would resolve "..", so this sends the path exactly as written. */
  const rawGet = (path: string) =>
    new Promise<number>((resolve, reject) => {
      const { port } = server.address() as AddressInfo;
      const req = httpRequest({ host: '127.0.0.1', port, path, method: 'GET' }, (res) => {
        res.resume();
        resolve(res.statusCode!);
      });
      req.on('error', reject);
      req.end();
    });

  beforeAll(async () => {
    const app = express();
    app.use(graphiqlRouter({ endpoint: '/graphql' }));
    // Stands in for Apollo: whatever the router passes on answers 418.
    app.use((_req, res) => {
      res.status(418).send('next handler');
    });
    server = app.listen(0, '127.0.0.1');
    await new Promise<void>((resolve) => server.once('listening', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    await new Promise<void>((resolve, reject) => server.close((error) => (error ? reject(error) : resolve())));
  });

  it('serves an HTML page to a browser, with a CSP that allows only this server', async () => {
    const response = await get('/graphql');
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/html/);
    expect(response.headers.get('vary')).toMatch(/accept/i);
    const csp = response.headers.get('content-security-policy') ?? '';
    expect(csp).toContain("default-src 'none'");
    expect(csp).toMatch(/script-src 'self'(;|$)/);
    const html = await response.text();
    expect(html).toMatch(/^<!doctype html>/i);
    expect(html).toContain('data-endpoint="/graphql"');
    expect(html).not.toMatch(externalUrl);
    expect(html).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/);
    expect(html).not.toMatch(/<style/);
  });

  it('asks for the token in a form that can never submit it in a URL', async () => {
    const html = await (await get('/graphql')).text();
    expect(html).toMatch(/<form id="signin" hidden>/);
    expect(html).not.toMatch(/<form[^>]*\b(action|method)=/);
    expect(html).toMatch(/<input id="signin-token" type="password" autocomplete="off"/);
    expect(html).not.toMatch(/<input[^>]*\bname=/);
    expect(html).toMatch(/<button id="signout" type="button">Sign out<\/button>/);
    expect((await get('/graphql')).headers.get('content-security-policy')).toContain("form-action 'none'");
  });

  it('serves every script and stylesheet the page references, from this server', async () => {
    const html = await (await get('/graphql')).text();
    const urls = references(html);
    expect(urls).toEqual(
      expect.arrayContaining([
        '/graphiql/react.production.min.js',
        '/graphiql/react-dom.production.min.js',
        '/graphiql/graphiql.min.js',
        '/graphiql/graphiql.min.css',
        '/graphiql/bootstrap.js',
        '/graphiql/favicon.svg',
      ]),
    );
    for (const url of urls) {
      expect(url).toMatch(/^\/graphiql\//);
      const response = await get(url, '*/*');
      expect({ url, status: response.status }).toEqual({ url, status: 200 });
      const expected = url.endsWith('.css') ? /^text\/css/ : url.endsWith('.svg') ? /^image\/svg\+xml/ : /^text\/javascript/;
      expect({ url, type: response.headers.get('content-type') }).toEqual({ url, type: expect.stringMatching(expected) });
      expect(response.headers.get('cache-control')).toMatch(/max-age=\d+/);
      expect(response.headers.get('x-content-type-options')).toBe('nosniff');
      const body = await response.text();
      expect({ url, large: body.length > 40 }).toEqual({ url, large: true });
      if (url.includes('graphiql.min.js')) expect(body.length).toBeGreaterThan(100_000);
    }
  });

  it('boots GraphiQL from a script that names no other host and keeps the token in sessionStorage only', async () => {
    const script = await (await get('/graphiql/bootstrap.js', '*/*')).text();
    expect(script).not.toMatch(externalUrl);
    expect(script).toContain('GraphiQL.createFetcher');
    expect(script).toContain('sessionStorage');
    expect(script).not.toMatch(/localStorage\s*[.[]/);
    expect(script).toContain('shouldPersistHeaders: false');
    const bundle = await (await get('/graphiql/graphiql.min.js', '*/*')).text();
    expect(bundle).toContain('createFetcher');
  });

  it.each([
    ['application/json', 'application/json'],
    ['any type', '*/*'],
    ['JSON preferred over HTML', 'application/json, text/html;q=0.5'],
  ])('passes GET /graphql with Accept %s on to the next handler', async (_name, accept) => {
    const response = await get('/graphql', accept);
    expect(response.status).toBe(418);
    expect(await response.text()).toBe('next handler');
  });

  it('passes POST /graphql on to the next handler', async () => {
    const response = await fetch(`${base}/graphql`, {
      method: 'POST',
      headers: { Accept: 'text/html', 'Content-Type': 'application/json' },
      body: '{"query":"{ __typename }"}',
    });
    expect(response.status).toBe(418);
  });

  it.each([
    '/graphiql/package.json',
    '/graphiql/../../package.json',
    '/graphiql/..%2F..%2Fpackage.json',
    '/graphiql/graphiql.min.js.map',
    '/graphiql/constructor',
    '/graphiql/__proto__',
    '/graphiql/',
    '/graphiql/react.development.js',
  ])('answers 404 for %s, which is not in the allow-list', async (path) => {
    expect(await rawGet(path)).toBe(404);
  });
});
