// A real browser for the report tests and bench: Debian's chromium driven by playwright-core,
// headless, background networking off, every request and console message recorded.
import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { chromium, type Browser, type ConsoleMessage, type Page } from 'playwright-core';

import { ROOT } from './cli.js';

export const CHROMIUM = '/usr/bin/chromium';

/** Why the browser cannot run here, or null. */
export function whyNoBrowser(): string | null {
  return existsSync(CHROMIUM) ? null : `${CHROMIUM} is not installed (scripts/ci-deps.sh installs Debian's chromium)`;
}

export function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
      '--disable-default-apps',
      '--disable-extensions',
      '--metrics-recording-only',
      '--disable-domain-reliability',
    ],
  });
}

export interface OpenedPage {
  page: Page;
  requests: string[];
  console: string[];
  errors: string[];
}

/** Opens `url` in a new page of its own context and waits until the report says it is drawn. */
export async function openReport(browser: Browser, url: string, viewport = { width: 1360, height: 900 }): Promise<OpenedPage> {
  const context = await browser.newContext({ viewport, deviceScaleFactor: 1 });
  const page = await context.newPage();
  const requests: string[] = [];
  const consoleLines: string[] = [];
  const errors: string[] = [];
  page.on('request', (r) => requests.push(r.url()));
  page.on('console', (m: ConsoleMessage) => {
    consoleLines.push(`${m.type()}: ${m.text()}`);
    if (m.type() === 'error' || m.type() === 'warning') errors.push(m.text());
  });
  page.on('pageerror', (e) => errors.push(`page error: ${e.message}`));
  await page.goto(url);
  await page.waitForFunction(() => document.documentElement.dataset.drawn !== undefined);
  return { page, requests, console: consoleLines, errors };
}

/** Where the report tests keep their screenshots (gitignored). */
export const SHOTS = path.join(ROOT, 'test-output', 'report');

/** `{ skip }` for browser tests: the reason, or false; under CI=true a missing browser fails instead. */
export function browserSkip(): string | false {
  const why = whyNoBrowser();
  if (why && process.env.CI !== 'true') process.stderr.write(`\n!!! SKIPPED: ${why} !!!\n\n`);
  return why && process.env.CI !== 'true' ? why : false;
}

/** A full-page screenshot of the current view, as `name`.png under SHOTS. */
export async function shoot(p: OpenedPage, name: string): Promise<string> {
  mkdirSync(SHOTS, { recursive: true });
  const file = path.join(SHOTS, `${name}.png`);
  await p.page.screenshot({ path: file, fullPage: true });
  return file;
}

/** Goes to a #view of the report and waits until the browser has drawn it. */
export async function view(p: OpenedPage, hash: string): Promise<void> {
  await p.page.evaluate((h) => {
    location.hash = h;
  }, hash);
  await p.page.waitForFunction((h) => location.hash === h && document.querySelector('main.page')?.children.length, hash);
  await p.page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));
}
