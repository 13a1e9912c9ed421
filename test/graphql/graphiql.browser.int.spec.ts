import type { Browser, BrowserContext, Page } from 'puppeteer-core';
import { type Chromium, launchChromium } from '../support/chromium';
import { ops } from '../support/scenario';
import { useTestApi } from '../support/use-test-api';

// Evaluated inside the page, where the DOM is; the test's own lib has none.
declare const document: any;
declare const sessionStorage: any;
declare const localStorage: any;

const TOKEN_KEY = 'backplane.graphiql.token';

interface Seen {
  url: string;
  method: string;
  authorization?: string;
}

/** A page of the offline GraphiQL, with every request it makes (sockets too) and every script error it throws. */
interface Tab {
  context: BrowserContext;
  page: Page;
  requests: Seen[];
  sockets: string[];
  errors: string[];
}

describe('the GraphiQL page in Chromium', () => {
  let chromium: Chromium | undefined;
  let browser: Browser;
  const contexts: BrowserContext[] = [];

  beforeAll(async () => {
    chromium = await launchChromium();
    browser = chromium.browser;
  });
  const service = useTestApi();
  afterEach(async () => {
    await Promise.all(contexts.splice(0).map((context) => context.close()));
  });
  afterAll(async () => {
    await chromium?.close();
  });

  const posts = (tab: Tab) => tab.requests.filter((request) => request.method === 'POST');
  const message = (tab: Tab) => tab.page.$eval('#signin-message', (element: any) => element.textContent as string);
  const editorShown = async (tab: Tab) => (await tab.page.$('.graphiql-container')) !== null;
  const savedToken = (tab: Tab) => tab.page.evaluate((key: string) => sessionStorage.getItem(key) as string | null, TOKEN_KEY);

  /** A tab in a browser context of its own (its own sessionStorage and localStorage), unless one is given. */
  async function open(context?: BrowserContext): Promise<Tab> {
    if (!context) {
      context = await browser.createBrowserContext();
      contexts.push(context);
    }
    const page = await context.newPage();
    // Shorter than the test's own timeout, so that a missing element fails with its selector named.
    page.setDefaultTimeout(15_000);
    const tab: Tab = { context, page, requests: [], sockets: [], errors: [] };
    page.on('request', (request) => {
      tab.requests.push({ url: request.url(), method: request.method(), authorization: request.headers().authorization });
    });
    page.on('pageerror', (error) => tab.errors.push(String(error)));
    page.on('console', (entry) => {
      if (entry.type() === 'error') tab.errors.push(entry.text());
    });
    const cdp = await page.createCDPSession();
    await cdp.send('Network.enable');
    cdp.on('Network.webSocketCreated', (event: { url: string }) => tab.sockets.push(event.url));
    await page.goto(service().url, { waitUntil: 'networkidle0' });
    return tab;
  }

  async function askedForToken(tab: Tab): Promise<void> {
    await tab.page.waitForSelector('#signin-token', { visible: true });
    expect(await editorShown(tab)).toBe(false);
  }

  async function signIn(tab: Tab, token: string): Promise<void> {
    await tab.page.type('#signin-token', token);
    await tab.page.click('#signin button[type=submit]');
  }

  async function signedIn(tab: Tab): Promise<void> {
    await tab.page.waitForSelector('.graphiql-container', { visible: true });
    await tab.page.waitForSelector('#signout', { visible: true });
    expect(await tab.page.$('#signin-token')).not.toBeNull();
    expect(await tab.page.$eval('#signin', (element: any) => element.hidden as boolean)).toBe(true);
  }

  /** Runs an operation through GraphiQL's own editor and Run button. */
  async function execute(tab: Tab, query: string): Promise<void> {
    await tab.page.waitForSelector('.graphiql-query-editor .CodeMirror');
    await tab.page.evaluate((text: string) => document.querySelector('.graphiql-query-editor .CodeMirror').CodeMirror.setValue(text), query);
    // GraphiQL parses the editor's text a moment after it changes, and picks HTTP or the socket from that parse.
    await new Promise((resolve) => setTimeout(resolve, 700));
    await tab.page.click('.graphiql-execute-button');
  }

  /** GraphiQL's response pane, once it contains `expected`. */
  async function answer(tab: Tab, expected: string): Promise<string> {
    await tab.page.waitForFunction(
      (text: string) => (document.querySelector('.graphiql-response .CodeMirror')?.CodeMirror.getValue() ?? '').includes(text),
      {},
      expected,
    );
    return tab.page.evaluate(() => document.querySelector('.graphiql-response .CodeMirror').CodeMirror.getValue() as string);
  }

  function onlyThisServer(tab: Tab): void {
    const origin = new URL(service().url).origin;
    const elsewhere = tab.requests.map((request) => request.url).filter((url) => !url.startsWith('data:') && new URL(url).origin !== origin);
    expect(elsewhere).toEqual([]);
    expect(tab.sockets.filter((url) => new URL(url).host !== new URL(service().url).host)).toEqual([]);
  }

  it('asks for a token first: no request goes to the API and no error shows', async () => {
    const tab = await open();
    await askedForToken(tab);
    expect(tab.requests[0]).toMatchObject({ url: service().url, method: 'GET' });
    expect(posts(tab)).toEqual([]);
    expect(tab.sockets).toEqual([]);
    expect(await message(tab)).toBe('');
    expect(tab.errors).toEqual([]);
    onlyThisServer(tab);
  });

  it("shows the API's UNAUTHENTICATED message for a wrong token, and keeps nothing", async () => {
    const wrong = 'bpk_not-a-token-of-this-server';
    const refusal = (await service().request(wrong, ops.me)).errors?.[0];
    expect(refusal?.extensions?.code).toBe('UNAUTHENTICATED');
    const tab = await open();
    await askedForToken(tab);
    await signIn(tab, wrong);
    await tab.page.waitForFunction((text: string) => document.querySelector('#signin-message').textContent === text, {}, refusal!.message);
    expect(await editorShown(tab)).toBe(false);
    expect(await savedToken(tab)).toBeNull();
    expect(await tab.page.$eval('#signin-token', (element: any) => element.value as string)).toBe('');
    expect(posts(tab).map((request) => request.authorization)).toEqual([`Bearer ${wrong}`]);
    onlyThisServer(tab);
  });

  it('loads the schema with the root token, sends it on every request and socket, and keeps it out of localStorage and the URL', async () => {
    const tab = await open();
    await askedForToken(tab);
    await signIn(tab, service().rootToken);
    await signedIn(tab);
    await tab.page.click('button[aria-label="Show Documentation Explorer"]');
    await tab.page.waitForSelector('.graphiql-doc-explorer-root-type');
    await execute(tab, '{ me { name } }');
    expect(JSON.parse(await answer(tab, 'first administrator'))).toEqual({ data: { me: { name: 'first administrator' } } });

    // The socket's connection_init must carry the token too: the server closes it otherwise, and nothing arrives.
    // From a cursor taken before the event, so that it arrives however late the subscription starts.
    const { auditLog } = await service().ok<{ auditLog: { edges: { cursor: string }[] } }>(service().rootToken, ops.auditLog, { first: 1 });
    await service().ok(service().rootToken, ops.registerDevice, { name: 'seen-in-graphiql' });
    await execute(tab, `subscription { auditEvents(after: "${auditLog.edges[0]!.cursor}") { type data } }`);
    expect(await answer(tab, 'seen-in-graphiql')).toContain('DeviceRegistered');
    expect(tab.sockets).toHaveLength(1);

    expect(posts(tab).length).toBeGreaterThan(2);
    expect(posts(tab).filter((request) => request.authorization !== `Bearer ${service().rootToken}`)).toEqual([]);
    expect(await savedToken(tab)).toBe(service().rootToken);
    const persisted = await tab.page.evaluate(() => Object.keys(localStorage).map((key: string) => `${key}=${localStorage.getItem(key)}`));
    expect(persisted.filter((entry: string) => entry.includes(service().rootToken))).toEqual([]);
    expect(tab.page.url()).not.toContain(service().rootToken);
    expect(tab.errors).toEqual([]);
    onlyThisServer(tab);
  });

  it('stays signed in on reload, asks again in a new tab or browser, and forgets the token on Sign out', async () => {
    const tab = await open();
    await signIn(tab, service().rootToken);
    await signedIn(tab);

    await tab.page.reload({ waitUntil: 'networkidle0' });
    await signedIn(tab);
    expect(await message(tab)).toBe('');

    await askedForToken(await open(tab.context));
    await askedForToken(await open());

    // A tab in the background has no animation frames, which puppeteer's click waits for.
    await tab.page.bringToFront();
    await tab.page.click('#signout');
    await askedForToken(tab);
    expect(await savedToken(tab)).toBeNull();
    await tab.page.reload({ waitUntil: 'networkidle0' });
    await askedForToken(tab);
  });
});
