// The web UI (apps/web) in a real browser: Debian's Chromium driven by playwright-core, against a real
// Gofer (Postgres, Redis, Docker) serving the UI and the browser API. Screenshots of the pages go to
// test/.tmp/screenshots for a reviewer to look at.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GoferClient } from '@gofer/proto';
import { ROOT, TestCluster, type GoferProcess } from '../support/gofer-process.js';
import { apply, startRun, waitForRun } from '../support/runs.js';

const SCREENSHOTS = join(ROOT, 'test/.tmp/screenshots');
// The flags this machine's closed network needs (docs/environment.md): no background connections.
const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

describe('the web UI in Chromium', () => {
  let cluster: TestCluster;
  let gofer: GoferProcess;
  let grpc: GoferClient;
  let browser: Browser;
  let origin: string;
  let clientToken: string;

  beforeAll(async () => {
    mkdirSync(SCREENSHOTS, { recursive: true });
    cluster = await TestCluster.create('web-ui');
    gofer = await cluster.start();
    grpc = cluster.client();
    origin = `http://${gofer.httpAddr}`;
    await grpc.createNamespace({ id: 'team-a', name: 'Team A', description: 'the team with its own token' });
    clientToken = (await grpc.createToken({ kind: 'TOKEN_KIND_CLIENT' as never, namespaces: ['team-a'], metadata: {}, expiresInSeconds: 0 })).secret;
    await apply(grpc, 'id: hello\nname: Hello\ntasks:\n  - id: greet\n    image: busybox:latest\n    script: echo hi\n');
    await apply(grpc, 'id: broken\ntasks:\n  - id: fail\n    image: busybox:latest\n    script: exit 3\n');
    for (const pipeline of ['hello', 'broken']) await waitForRun(grpc, pipeline, (await startRun(grpc, pipeline)).id);
    browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: CHROMIUM_ARGS });
  });
  afterAll(async () => {
    await browser?.close();
    await cluster?.destroy();
  });

  /** A fresh browser profile (no storage), recording every request URL the page makes. */
  async function open(path = '/'): Promise<{ context: BrowserContext; page: Page; urls: string[] }> {
    const context = await browser.newContext();
    const page = await context.newPage();
    const urls: string[] = [];
    page.on('request', (request) => urls.push(request.url()));
    await page.goto(`${origin}${path}`);
    return { context, page, urls };
  }

  async function signIn(page: Page, token: string): Promise<void> {
    await page.getByLabel('API token').fill(token);
    await page.getByRole('button', { name: 'Sign in' }).click();
  }

  it('refuses a wrong token with the server\'s reason, then signs in, browses and signs out', async () => {
    const { context, page, urls } = await open('/');
    expect(new URL(page.url()).pathname).toBe('/ui/'); // / redirects to the UI
    await page.screenshot({ path: join(SCREENSHOTS, 'sign-in.png') });

    await signIn(page, 'gofer_this-is-not-a-token');
    await expect.poll(() => page.getByRole('alert').textContent()).toMatch(/^Not signed in: the API token /);

    await signIn(page, cluster.token);
    await page.getByTestId('namespaces').waitFor();
    expect(await page.getByTestId('namespaces').getByRole('link').allTextContents()).toEqual([
      expect.stringContaining('default'), expect.stringContaining('Team A'),
    ]);
    expect(await page.getByTestId('who').textContent()).toMatch(/^management token /);
    await page.screenshot({ path: join(SCREENSHOTS, 'namespaces.png') });

    await page.getByRole('link', { name: /default/ }).click();
    await page.getByTestId('pipelines').waitFor();
    expect(page.url()).toBe(`${origin}/ui/namespaces/default`);
    // Each pipeline with its last run: its outcome as a word (and symbol), not colour alone.
    expect(await page.locator('tr[data-pipeline="hello"] .dot').getAttribute('data-status')).toBe('successful');
    expect(await page.locator('tr[data-pipeline="broken"] .dot').getAttribute('data-status')).toBe('failed');
    expect(await page.locator('tr[data-pipeline="broken"] .dot .sr').textContent()).toBe('run 1 failed');
    await page.screenshot({ path: join(SCREENSHOTS, 'pipelines.png') });

    // A deep link survives a reload (the token is kept for the tab), and back goes back.
    await page.reload();
    await page.getByTestId('pipelines').waitFor();
    await page.goBack();
    await page.getByTestId('namespaces').waitFor();

    // The token travels in a header only: never in a URL, never in persistent storage or a cookie.
    expect(urls.filter((url) => url.includes(cluster.token))).toEqual([]);
    expect(await page.evaluate('Object.keys(localStorage)')).toEqual([]);
    expect(await context.cookies()).toEqual([]);
    expect(await page.content()).not.toContain(cluster.token);

    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByLabel('API token').waitFor();
    expect(await page.evaluate('Object.keys(sessionStorage)')).toEqual([]);
    await context.close();
  });

  it('a client token sees only its own namespace, and is refused another one by the server', async () => {
    const { context, page } = await open('/ui/');
    await signIn(page, clientToken);
    await page.getByTestId('namespaces').waitFor();
    expect(await page.getByTestId('namespaces').getByRole('link').allTextContents()).toEqual([expect.stringContaining('Team A')]);
    expect(await page.getByTestId('who').textContent()).toMatch(/^client token /);

    await page.goto(`${origin}/ui/namespaces/default`);
    await expect.poll(() => page.getByRole('alert').textContent()).toMatch(/^Not allowed: /);
    await context.close();
  });

  it('serves the UI with caching and security headers, and its own routes as the app', async () => {
    const index = await fetch(`${origin}/ui/namespaces/default`);
    expect(index.status).toBe(200);
    expect(index.headers.get('cache-control')).toBe('no-cache');
    expect(index.headers.get('content-security-policy')).toContain("connect-src 'self'");
    expect(index.headers.get('x-frame-options')).toBe('DENY');
    const html = await index.text();
    const script = /src="(\/ui\/assets\/[^"]+\.js)"/.exec(html)?.[1];
    expect(script).toBeDefined();
    const asset = await fetch(`${origin}${script}`);
    expect(asset.status).toBe(200);
    expect(asset.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    expect(asset.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
    expect((await fetch(`${origin}/ui/assets/../../package.json`)).status).not.toBe(200);
    expect((await fetch(`${origin}/ui/assets/nope.js`)).status).toBe(404);
    expect((await fetch(`${origin}/ui/`, { method: 'POST' })).status).toBe(405);
  });
});
