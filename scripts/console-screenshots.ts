/**
 * The README's pictures of the console: a service on PGlite with the GitLab test double, a plan
 * whose two additional credentials are switched on and off over a few seconds, and PNGs of the
 * plan's credentials panel, of its audit timeline and of the event log at a laptop's size, written
 * to docs/.
 *
 *   npm run screenshots
 */
import { join } from 'node:path';
import { buildConsole, launchChromium, openTab } from '../test/console/chromium';

// The test support picks jest's describe or describe.skip as it loads; outside jest there is none.
const globals = globalThis as { describe?: unknown };
globals.describe ??= Object.assign(() => undefined, { skip: () => undefined });
const { startTestApi, testStorage } = require('../test/support/api-server') as typeof import('../test/support/api-server');
const { buildScenario, ops } = require('../test/support/scenario') as typeof import('../test/support/scenario');

const docs = join(__dirname, '..', 'docs');
const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function main(): Promise<void> {
  buildConsole();
  const storage = await testStorage('pglite');
  const api = await startTestApi(storage);
  const chromium = await launchChromium();
  try {
    // Switch on with bot1 enabled, then bot2 on, bot1 off and on again: bars of different lengths.
    const { planId, credentialIds } = await buildScenario(api, api.rootToken, 'acme');
    for (const [credentialId, enabled] of [
      [credentialIds[1], true],
      [credentialIds[0], false],
      [credentialIds[0], true],
    ] as const) {
      await pause(3_000);
      const { plan } = await api.ok(api.rootToken, ops.plan, { id: planId });
      await api.ok(api.rootToken, ops.togglePlanCredential, { planId, credentialId, enabled, v: plan.version });
    }
    await pause(2_000);

    const origin = new URL(api.url).origin;
    const tab = await openTab(chromium.browser, `${origin}/`);
    const page = tab.page;
    await page.locator('::-p-aria("API token")').fill(api.rootToken);
    await page.keyboard.press('Enter');
    await page.waitForSelector('nav[aria-label="Main"]');

    await page.evaluate((hash: string) => {
      (globalThis as any).document.location.hash = hash;
    }, `#/plans/${planId}`);
    await page.waitForSelector('::-p-aria([name="Advanced settings"][role="heading"])');
    const panel = (
      await page.evaluateHandle(() =>
        [...(globalThis as any).document.querySelectorAll('section.section')].find((section: any) =>
          section.querySelector('h2, h3')?.textContent?.includes('Advanced settings'),
        ),
      )
    ).asElement();
    if (!panel) throw new Error('the plan shows no Advanced settings section');
    await panel.screenshot({ path: join(docs, 'console-plan-credentials.png') as `${string}.png` });

    await page.locator('::-p-aria([name="Audit this plan"][role="link"])').click();
    await page.waitForSelector('[data-lane="acme-bot2"] [data-bar]');
    // A bar with focus shows who switched it and when, as hovering does; the last lane's opens below
    // the figure, so the picture takes in some room under it.
    await page.focus('[data-lane="acme-bot2"] [data-bar]');
    const timeline = await page.waitForSelector('figure.timeline');
    const box = (await timeline!.boundingBox())!;
    await page.screenshot({
      path: join(docs, 'console-timeline.png') as `${string}.png`,
      clip: { x: Math.max(0, box.x - 12), y: Math.max(0, box.y - 12), width: box.width + 24, height: box.height + 80 },
    });

    // The event log, filtered to the plan, with the newest event's details open.
    await page.evaluate((hash: string) => {
      (globalThis as any).document.location.hash = hash;
    }, `#/audit/log?planId=${planId}`);
    await page.waitForSelector('[data-event-log] tbody[data-event-id]');
    await page.waitForSelector('[data-live="live"]');
    const last = (await page.$$('[data-event-log] tbody[data-event-id]')).at(-1)!;
    await (await last.$('button[aria-expanded]'))!.click();
    await page.waitForSelector('[data-event-data]');
    await page.screenshot({ path: join(docs, 'console-event-log.png') as `${string}.png`, fullPage: true });
    if (tab.errors.length) throw new Error(`the console logged errors: ${tab.errors.join('; ')}`);
    process.stdout.write(`Screenshots written to ${docs}\n`);
  } finally {
    await chromium.close();
    await api.close();
    await storage.dispose();
  }
}

main().catch((error) => {
  process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
