/**
 * `npm run bench:console`: the console's first load in Debian's headless Chromium, on a service of
 * its own (embedded PGlite, a temporary data folder).
 *
 * - Size: the bytes every asset of the first load took on the wire (Chromium's encodedDataLength,
 *   headers included), as a browser that accepts brotli gets them. Target: under 500 KB.
 * - Time to interactive: from navigation start to the moment the console answers input (its
 *   `console-interactive` performance mark), in a fresh browser context each time (nothing cached),
 *   the median of the rounds. Target: under 1 s. Its floor, measured in the same run, is the same
 *   server's smallest page (/healthz) loaded the same way, and the ratio to it is printed too.
 * - The same once signed in: until the Organizations page shows its list.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser } from 'puppeteer-core';
import { loadConfig } from '../src/config';
import { startService } from '../src/service';
import { launchChromium } from '../test/console/chromium';
import { median } from './client';

declare const performance: any;
declare const sessionStorage: any;

const ROUNDS = process.argv.includes('--quick') ? 5 : 15;
const SIZE_TARGET_KB = 500;
const TIME_TARGET_MS = 1000;

interface Load {
  bytes: number;
  ms: number;
}

/** One load of `url` in a fresh context; `ready` says, inside the page, when it counts as interactive. */
async function load(browser: Browser, url: string, ready: () => Promise<number>, token?: string): Promise<Load> {
  const context = await browser.createBrowserContext();
  try {
    const page = await context.newPage();
    await page.setViewport({ width: 1366, height: 768 });
    if (token) {
      await page.evaluateOnNewDocument((value: string) => sessionStorage.setItem('backplane.console.token', value), token);
      await page.evaluateOnNewDocument(watchForList);
    }
    const cdp = await page.createCDPSession();
    await cdp.send('Network.enable');
    let bytes = 0;
    cdp.on('Network.loadingFinished', (event: { encodedDataLength: number }) => {
      bytes += event.encodedDataLength;
    });
    await page.goto(url, { waitUntil: 'networkidle0' });
    const ms = await page.evaluate(ready);
    return { bytes, ms };
  } finally {
    await context.close();
  }
}

const marked = async () => {
  for (;;) {
    const mark = performance.getEntriesByName('console-interactive')[0];
    if (mark) return mark.startTime as number;
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
};
/** Installed before the page's own scripts: notes when the Organizations page first shows its list (or says it has none). */
function watchForList(): void {
  const doc = (globalThis as any).document;
  new (globalThis as any).MutationObserver((_: unknown, observer: any) => {
    const heading = doc.querySelector('main h1');
    const shown = doc.querySelector('main table') || [...doc.querySelectorAll('main p')].some((p: any) => p.textContent === 'No organization yet.');
    if (heading?.textContent === 'Organizations' && shown) {
      (globalThis as any).listedAt = performance.now();
      observer.disconnect();
    }
  }).observe(doc, { childList: true, subtree: true });
}
const listed = async () => {
  for (;;) {
    const at = (globalThis as any).listedAt as number | undefined;
    if (at !== undefined) return at;
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
};
const loaded = async () => performance.getEntriesByType('navigation')[0].loadEventEnd as number;

async function main(): Promise<void> {
  const dataDir = await mkdtemp(join(tmpdir(), 'backplane-bench-'));
  const token = `bpk_bench_${randomBytes(24).toString('base64url')}`;
  const config = loadConfig({
    BACKPLANE_EVENT_STORE: 'pglite',
    BACKPLANE_DATA_DIR: dataDir,
    BACKPLANE_MASTER_KEY: randomBytes(32).toString('base64'),
    BACKPLANE_BOOTSTRAP_TOKEN: token,
    PORT: '0',
  });
  const service = await startService(config, { host: '127.0.0.1' });
  const chromium = await launchChromium();
  try {
    const origin = new URL(service.server.url).origin;
    const first: Load[] = [];
    const signedIn: Load[] = [];
    const floor: Load[] = [];
    // Interleaved round by round, so that noise falls on every case alike.
    for (let round = 0; round < ROUNDS; round++) {
      floor.push(await load(chromium.browser, `${origin}/healthz`, loaded));
      first.push(await load(chromium.browser, `${origin}/`, marked));
      signedIn.push(await load(chromium.browser, `${origin}/`, listed, token));
    }
    const kb = (bytes: number) => bytes / 1024;
    const firstKb = kb(median(first.map((entry) => entry.bytes)));
    const firstMs = median(first.map((entry) => entry.ms));
    const signedInMs = median(signedIn.map((entry) => entry.ms));
    const floorMs = median(floor.map((entry) => entry.ms));
    const verdict = (ok: boolean) => (ok ? 'within target' : 'OVER TARGET');
    console.log(`Console first load in headless Chromium, median of ${ROUNDS} fresh contexts:`);
    console.log(`  assets on the wire (brotli)   ${firstKb.toFixed(1).padStart(7)} KB   target < ${SIZE_TARGET_KB} KB: ${verdict(firstKb < SIZE_TARGET_KB)}`);
    console.log(`  time to interactive (sign-in) ${firstMs.toFixed(0).padStart(7)} ms   target < ${TIME_TARGET_MS} ms: ${verdict(firstMs < TIME_TARGET_MS)}`);
    console.log(`  signed in, organizations shown${signedInMs.toFixed(0).padStart(7)} ms`);
    console.log(`  floor: /healthz loaded        ${floorMs.toFixed(0).padStart(7)} ms   console/floor ${(firstMs / floorMs).toFixed(1)}`);
  } finally {
    await chromium.close();
    await service.close();
    await rm(dataDir, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
