import { execFileSync } from 'node:child_process';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, BrowserContext, Page } from 'puppeteer-core';

export { CHROMIUM, type Chromium, launchChromium } from '../support/chromium';

const root = join(__dirname, '..', '..');

/** Bundles the console as `npm run build` does, so that the server under test serves what the sources say. */
export function buildConsole(): void {
  execFileSync(process.execPath, [join(root, 'scripts', 'build-console.mjs')], { cwd: root, stdio: 'pipe' });
}

/** A tab in a browser context of its own (its own sessionStorage), with every script error and request it makes. */
export interface Tab {
  context: BrowserContext;
  page: Page;
  errors: string[];
  requests: string[];
}

export async function openTab(browser: Browser, url: string): Promise<Tab> {
  const context = await browser.createBrowserContext();
  const page = await context.newPage();
  // A laptop's screen.
  await page.setViewport({ width: 1366, height: 768 });
  // Shorter than the test's own timeout, so that a missing element fails with its selector named.
  page.setDefaultTimeout(15_000);
  const tab: Tab = { context, page, errors: [], requests: [] };
  page.on('pageerror', (error) => tab.errors.push(String(error)));
  page.on('console', (entry) => {
    if (entry.type() === 'error') tab.errors.push(entry.text());
  });
  page.on('request', (request) => tab.requests.push(request.url()));
  await page.goto(url, { waitUntil: 'networkidle0' });
  return tab;
}

/** Runs a step; when it fails, a screenshot of the tab is saved for the developer and its path printed. */
export async function step<T>(tab: Tab, name: string, body: () => Promise<T>): Promise<T> {
  try {
    return await body();
  } catch (error) {
    const folder = await mkdtemp(join(tmpdir(), 'backplane-console-failure-'));
    const file = join(folder, `${name.replace(/[^a-z0-9]+/gi, '-')}.png`);
    await tab.page.screenshot({ path: file as `${string}.png`, fullPage: true }).catch(() => undefined);
    process.stderr.write(`\nConsole test step "${name}" failed; screenshot: ${file}\n`);
    throw error;
  }
}
