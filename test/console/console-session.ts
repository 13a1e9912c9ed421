import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { eventually } from '../support/eventually';
import { ops } from '../support/scenario';
import type { TestApi } from '../support/api-server';
import { useTestApi } from '../support/use-test-api';
import { buildConsole, launchChromium, openTab, type Chromium, type Tab } from './chromium';

/** Puppeteer's ARIA selector: finds a control by its accessible name, as a screen reader would. */
export const aria = (name: string, role?: string) => `::-p-aria(${role ? `[name=${JSON.stringify(name)}][role="${role}"]` : JSON.stringify(name)})`;

/**
 * A browser suite's frame: the console built, one Chromium and one service for the file, each
 * test's tabs closed after it, and signing in by the token field as a user does.
 */
export function useConsole() {
  let chromium: Chromium;
  const tabs: Tab[] = [];
  beforeAll(async () => {
    buildConsole();
    chromium = await launchChromium();
  }, 120_000);
  const service = useTestApi();
  afterEach(async () => {
    await Promise.all(tabs.splice(0).map((tab) => tab.context.close()));
  });
  afterAll(async () => {
    await chromium?.close();
  });

  const origin = () => new URL(service().url).origin;

  /** A new tab at the URL, closed after the test. */
  async function open(url: string): Promise<Tab> {
    const tab = await openTab(chromium.browser, url);
    tabs.push(tab);
    return tab;
  }

  /** A new tab at `path` (a shared link, say) of the service at `at`, signed in with the token. */
  async function signedIn(token: string, path = '/', at = origin()): Promise<Tab> {
    const tab = await open(`${at}${path}`);
    await tab.page.locator(aria('API token')).fill(token);
    await tab.page.locator(aria('Sign in', 'button')).click();
    await tab.page.waitForSelector('nav[aria-label="Main"]');
    return tab;
  }

  const tokens = new Map<string, string>();
  /** A token of the role, made once for the file (a name is taken once in a tenant). */
  async function tokenFor(role: string): Promise<string> {
    const api: TestApi = service();
    if (!tokens.has(role)) {
      const { createApiToken } = await api.ok(api.rootToken, ops.createApiToken, { name: `console ${role.toLowerCase()}`, role });
      tokens.set(role, createApiToken.token as string);
    }
    return tokens.get(role)!;
  }

  return { service, origin, open, signedIn, tokenFor };
}

/** Downloads of the tab's browser context go to `folder`, as a user's would go to theirs. */
export async function allowDownloads(tab: Tab, folder: string): Promise<void> {
  // The page's session, left attached: Chromium forgets the behaviour when the session that set it detaches.
  const session = await tab.page.createCDPSession();
  await session.send('Browser.setDownloadBehavior', { behavior: 'allow', downloadPath: folder, browserContextId: tab.context.id });
}

/** The file a download wrote once it has all its bytes (Chromium writes a .crdownload first, then renames it). */
export function downloaded(folder: string, name: string, size: number): Promise<string> {
  return eventually(async () => {
    const file = join(folder, name);
    expect(await readdir(folder)).toContain(name);
    expect((await stat(file)).size).toBe(size);
    return file;
  }, 20_000);
}
