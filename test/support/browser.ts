// Debian's Chromium driven by playwright-core, for the web UI's tests and benchmarks (test/web, bench/).
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser, type BrowserContext, type BrowserContextOptions, type Page } from 'playwright-core';
import { ROOT } from './gofer-process.js';

/** Where tests save screenshots of the UI's pages for a reviewer to look at. */
export const SCREENSHOTS = join(ROOT, 'test/.tmp/screenshots');

// The flags this machine's closed network needs (docs/environment.md): no background connections.
export const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

/** Headless Chromium (/usr/bin/chromium, installed by .ci/run), with the screenshot directory made. */
export async function launchBrowser(args: string[] = []): Promise<Browser> {
  mkdirSync(SCREENSHOTS, { recursive: true });
  return chromium.launch({ executablePath: '/usr/bin/chromium', args: [...CHROMIUM_ARGS, ...args] });
}

/** A fresh browser profile (no storage) on `url`, recording every request URL the page makes. */
export async function openPage(
  browser: Browser,
  url: string,
  options: BrowserContextOptions = {},
): Promise<{ context: BrowserContext; page: Page; urls: string[] }> {
  const context = await browser.newContext(options);
  const page = await context.newPage();
  const urls: string[] = [];
  page.on('request', (request) => urls.push(request.url()));
  await page.goto(url);
  return { context, page, urls };
}

/** Signs in on the sign-in form the UI shows when it holds no token. */
export async function signIn(page: Page, token: string): Promise<void> {
  await page.getByLabel('API token').fill(token);
  await page.getByRole('button', { name: 'Sign in' }).click();
}
