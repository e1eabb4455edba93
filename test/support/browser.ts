// A real browser for the report tests and bench: Debian's chromium driven by playwright-core,
// headless, background networking off, every request and console message recorded.
import { existsSync } from 'node:fs';
import { chromium, type Browser, type ConsoleMessage, type Page } from 'playwright-core';

export const CHROMIUM = '/usr/bin/chromium';

/** Why the browser cannot run here, or null. */
export function whyNoBrowser(): string | null {
  return existsSync(CHROMIUM) ? null : `${CHROMIUM} is not installed (scripts/ci-deps.sh installs Debian's chromium)`;
}

export function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync',
      '--no-first-run', '--disable-default-apps', '--disable-extensions', '--metrics-recording-only', '--disable-domain-reliability'],
  });
}

export interface OpenedPage { page: Page; requests: string[]; console: string[]; errors: string[] }

/** Opens `url` in a new page of its own context and waits until the report says it is drawn. */
export async function openReport(browser: Browser, url: string, viewport = { width: 1360, height: 900 }): Promise<OpenedPage> {
  const context = await browser.newContext({ viewport, deviceScaleFactor: 1 });
  const page = await context.newPage();
  const requests: string[] = [];
  const consoleLines: string[] = [];
  const errors: string[] = [];
  page.on('request', (r) => requests.push(r.url()));
  page.on('console', (m: ConsoleMessage) => { consoleLines.push(`${m.type()}: ${m.text()}`); if (m.type() === 'error' || m.type() === 'warning') errors.push(m.text()); });
  page.on('pageerror', (e) => errors.push(`page error: ${e.message}`));
  await page.goto(url);
  await page.waitForFunction(() => document.documentElement.dataset.drawn !== undefined);
  return { page, requests, console: consoleLines, errors };
}
