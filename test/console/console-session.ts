import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { eventually } from '../support/eventually';
import { ops } from '../support/scenario';
import type { TestApi } from '../support/api-server';
import { useTestApi } from '../support/use-test-api';
import { buildConsole, launchChromium, openTab, type Chromium, type Tab } from './chromium';

// Evaluated inside the page, where the DOM is; the test's own lib has none.
declare const document: any;
declare const getComputedStyle: any;

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

/** Controls without an accessible name, as a screen reader would find them (labels, aria-label(ledby), text). */
export const unnamed = (tab: Tab) =>
  tab.page.evaluate(() =>
    [...document.querySelectorAll('input, select, button, a[href]')]
      .filter((element: any) => {
        const labelled = element.labels?.length > 0 || element.getAttribute('aria-label') || element.getAttribute('aria-labelledby');
        return !labelled && (element.textContent ?? '').trim() === '';
      })
      .map((element: any) => element.outerHTML.slice(0, 120)),
  );

/**
 * Text whose contrast with its background is under WCAG AA (4.5:1; 3:1 from 24px, or 18.66px bold).
 * Disabled controls are exempt, as WCAG has it.
 */
export const lowContrast = (tab: Tab) =>
  tab.page.evaluate(() => {
    const rgba = (text: string) => (text.match(/[\d.]+/g) ?? []).map(Number);
    const luminance = ([r, g, b]: number[]) => {
      const channel = (value: number) => {
        const c = value / 255;
        return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
      };
      return 0.2126 * channel(r!) + 0.7152 * channel(g!) + 0.0722 * channel(b!);
    };
    const background = (element: any): number[] => {
      for (let node = element; node; node = node.parentElement) {
        const color = rgba(getComputedStyle(node).backgroundColor);
        if (color.length === 3 || (color.length === 4 && color[3] === 1)) return color.slice(0, 3);
      }
      return [255, 255, 255];
    };
    const found: string[] = [];
    for (const element of document.querySelectorAll('body *') as any) {
      const own = [...element.childNodes].some((node: any) => node.nodeType === 3 && node.textContent.trim() !== '');
      if (!own || element.closest(':disabled, [aria-disabled="true"]') || element.getClientRects().length === 0) continue;
      const style = getComputedStyle(element);
      if (style.visibility === 'hidden' || style.clip === 'rect(0px, 0px, 0px, 0px)') continue;
      const [fg, bg] = [luminance(rgba(style.color)), luminance(background(element))];
      const ratio = (Math.max(fg, bg) + 0.05) / (Math.min(fg, bg) + 0.05);
      const size = Number.parseFloat(style.fontSize);
      const large = size >= 24 || (size >= 18.66 && Number(style.fontWeight) >= 700);
      if (ratio < (large ? 3 : 4.5)) found.push(`${element.tagName} "${element.textContent.trim().slice(0, 40)}" ${ratio.toFixed(2)}:1`);
    }
    return found;
  });
