// The web UI (apps/web) in a real browser: Debian's Chromium driven by playwright-core, against a real
// Gofer (Postgres, Redis, Docker) serving the UI and the browser API. Screenshots of the pages go to
// test/.tmp/screenshots for a reviewer to look at.
import { join } from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GoferClient } from '@gofer/proto';
import { launchBrowser, openPage, SCREENSHOTS, signIn } from '../support/browser.js';
import { TestCluster, type GoferProcess } from '../support/gofer-process.js';
import { apply, startRun, waitForRun } from '../support/runs.js';

describe('the web UI in Chromium', () => {
  let cluster: TestCluster;
  let gofer: GoferProcess;
  let grpc: GoferClient;
  let browser: Browser;
  let origin: string;
  let clientToken: string;

  beforeAll(async () => {
    cluster = await TestCluster.create('web-ui');
    gofer = await cluster.start();
    grpc = cluster.client();
    origin = `http://${gofer.httpAddr}`;
    await grpc.createNamespace({ id: 'team-a', name: 'Team A', description: 'the team with its own token' });
    clientToken = (await grpc.createToken({ kind: 'TOKEN_KIND_CLIENT' as never, namespaces: ['team-a'], metadata: {}, expiresInSeconds: 0 })).secret;
    await apply(grpc, 'id: hello\nname: Hello\ntasks:\n  - id: greet\n    image: busybox:latest\n    script: echo hi\n');
    await apply(grpc, 'id: broken\ntasks:\n  - id: fail\n    image: busybox:latest\n    script: exit 3\n');
    for (const pipeline of ['hello', 'broken']) await waitForRun(grpc, pipeline, (await startRun(grpc, pipeline)).id);
    browser = await launchBrowser();
  });
  afterAll(async () => {
    await browser?.close();
    await cluster?.destroy();
  });

  const open = (path = '/'): Promise<{ context: BrowserContext; page: Page; urls: string[] }> => openPage(browser, `${origin}${path}`);

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

  it('starts a run with a variable, watches its DAG change live, retries it, and cancels a long run', async () => {
    await apply(grpc, `
id: dag-ui
tasks:
  - id: greet
    image: busybox:latest
    script: 'echo "hello $WHO"'
  - id: slow
    image: busybox:latest
    script: 'sleep 2; echo slow done'
    depends_on: { greet: success }
  - id: fails
    image: busybox:latest
    script: 'exit 3'
    depends_on: { greet: success }
  - id: recover
    image: busybox:latest
    script: echo recovered
    depends_on: { fails: failure }
  - id: never
    image: busybox:latest
    script: echo never
    depends_on: { fails: success }
`);
    await apply(grpc, 'id: long-ui\ntasks:\n  - id: wait\n    image: busybox:latest\n    script: sleep 300\n');
    const { context, page } = await open('/ui/namespaces/default/pipelines/dag-ui');
    await signIn(page, cluster.token); // a deep link leads to the sign-in, then to the page asked for
    await page.getByLabel(/Variables for a new run/).fill('WHO=browser');
    await page.getByRole('button', { name: 'Run' }).click();
    await page.waitForURL(/\/ui\/namespaces\/default\/pipelines\/dag-ui\/runs\/\d+$/);
    // The whole DAG is drawn at once, before its tasks have run.
    await page.getByTestId('dag').waitFor();
    expect(await page.locator('[data-testid="dag"] g.node').count()).toBe(5);
    await page.evaluate('window.__notReloaded = true');

    const status = page.getByTestId('run-status');
    await expect.poll(() => status.getAttribute('data-status'), { timeout: 60_000 }).toBe('failed');
    const nodes = Object.fromEntries(
      await Promise.all(['greet', 'slow', 'fails', 'recover', 'never'].map(async (task) =>
        [task, await page.locator(`g.node[data-task="${task}"]`).getAttribute('data-status')] as const)),
    );
    expect(nodes).toEqual({ greet: 'successful', slow: 'successful', fails: 'failed', recover: 'successful', never: 'skipped' });
    expect(await page.evaluate('window.__notReloaded')).toBe(true); // updated from the event stream, not by reloading
    expect(await page.locator('tr[data-task="fails"]').textContent()).toContain('exited with code 3');
    expect(await page.locator('tr[data-task="never"]').textContent()).toContain('"fails" ended failed');
    expect(await page.locator('section > p.muted').first().textContent()).toContain('WHO=browser');
    // Edges say what each task needs of its parent, in the drawing's own words.
    expect(await page.locator('path.edge.need-on-failure title').textContent()).toBe('recover runs on failure of fails');
    // The timeline: a bar per task that ran, a dependent's after its parent's; none for the skipped one.
    const lane = (task: string) => page.locator(`[data-testid="timeline"] g.lane[data-task="${task}"] rect`);
    expect(await lane('never').count()).toBe(0);
    const x = async (task: string) => Number.parseFloat((await lane(task).getAttribute('x'))!);
    expect(await x('slow')).toBeGreaterThan(await x('greet'));
    expect(await x('recover')).toBeGreaterThan(await x('fails'));
    await page.screenshot({ path: join(SCREENSHOTS, 'run.png'), fullPage: true });

    await page.getByRole('button', { name: 'Retry run' }).click();
    await expect.poll(() => page.locator('section > p.muted').first().textContent()).toContain('retry of run');
    await expect.poll(() => status.getAttribute('data-status'), { timeout: 60_000 }).toBe('failed');

    await page.goto(`${origin}/ui/namespaces/default/pipelines/long-ui`);
    await page.getByRole('button', { name: 'Run' }).click();
    await page.waitForURL(/\/runs\/\d+$/);
    await expect.poll(() => page.locator('g.node[data-task="wait"]').getAttribute('data-status'), { timeout: 60_000 }).toBe('running');
    await page.getByRole('button', { name: 'Cancel run' }).click();
    await expect.poll(() => status.getAttribute('data-status'), { timeout: 60_000 }).toBe('cancelled');
    await context.close();
  });

  it('shows a task\'s log with its colours, only the lines in view in the DOM, and finds a line', async () => {
    await apply(grpc, `
id: logs-ui
tasks:
  - id: talk
    image: busybox:latest
    script: 'printf "\\033[32mall green\\033[0m\\n"; echo "to stderr" >&2; for i in $(seq 1 5000); do echo "line $i"; done'
`);
    const run = await startRun(grpc, 'logs-ui');
    await waitForRun(grpc, 'logs-ui', run.id);
    const { context, page } = await open(`/ui/namespaces/default/pipelines/logs-ui/runs/${run.id}`);
    await signIn(page, cluster.token);
    await page.locator('tr[data-task="talk"]').getByRole('link', { name: 'talk' }).click();
    await page.waitForURL(/\/tasks\/talk$/);
    const state = page.getByTestId('log-state');
    await expect.poll(() => state.textContent(), { timeout: 60_000 }).toBe('5002 lines');
    // Following: the end is in view; far fewer lines than the log has are in the DOM.
    await expect.poll(() => page.locator('.log-line', { hasText: /^line 5000$/ }).count()).toBe(1);
    expect(await page.locator('.log-line').count()).toBeLessThan(300);
    await page.screenshot({ path: join(SCREENSHOTS, 'logs.png') });

    // Find scrolls to the line; its colour is a class (the CSP allows no inline styles).
    await page.getByLabel('Search the log').fill('all green');
    await page.getByRole('button', { name: 'Find' }).click();
    const green = page.locator('.log-line.match');
    await green.waitFor();
    expect(await green.locator('span.ansi-green-fg').textContent()).toBe('all green');
    // stdout and stderr are separate pipes, so where the stderr line lands among 5,000 fast stdout lines
    // varies: found by its text, it is told apart as stderr.
    await page.getByLabel('Search the log').fill('to stderr');
    await page.getByRole('button', { name: 'Find' }).click();
    await expect.poll(() => page.locator('.log-line.match').textContent()).toBe('to stderr');
    expect(await page.locator('.log-line.match').getAttribute('class')).toContain('stderr');
    await context.close();
  });

  it('opens a long log at its end, and loads what lies before it without cutting or repeating a line', async () => {
    await apply(grpc, 'id: long-log-ui\ntasks:\n  - id: count\n    image: busybox:latest\n    script: seq 1 400000\n');
    const run = await startRun(grpc, 'long-log-ui');
    await waitForRun(grpc, 'long-log-ui', run.id);
    // What the page must show: from the first whole line after the 1 MiB tail's start, then from the
    // first whole line after the 1 MiB before that (apps/web/src/LogsPage.tsx, log-lines.ts).
    const full = Array.from({ length: 400_000 }, (_, i) => `${i + 1}\n`).join('');
    const MiB = 1024 * 1024;
    const wholeLinesFrom = (offset: number) => full.indexOf('\n', offset) + 1;
    const linesIn = (from: number) => full.slice(from).split('\n').length - 1;
    const tailStart = wholeLinesFrom(full.length - MiB);
    const earlierStart = wholeLinesFrom(tailStart - MiB);

    const { context, page } = await open(`/ui/namespaces/default/pipelines/long-log-ui/runs/${run.id}/tasks/count`);
    await signIn(page, cluster.token);
    const state = page.getByTestId('log-state');
    await expect.poll(() => state.textContent(), { timeout: 60_000 }).toBe(`${linesIn(tailStart)} lines`);
    await expect.poll(() => page.locator('.log-line', { hasText: /^400000$/ }).count()).toBe(1);
    await page.screenshot({ path: join(SCREENSHOTS, 'logs-tail.png') });

    await page.getByRole('button', { name: /^Load earlier \(1\.0 MiB of / }).click();
    await expect.poll(() => state.textContent()).toBe(`${linesIn(earlierStart)} lines`);
    // The line just before the old first one is there, once, and the join has no cut line.
    const before = full.slice(0, tailStart - 1).split('\n').at(-1)!;
    await page.getByLabel('Search the log').fill(before);
    await page.getByRole('button', { name: 'Find' }).click();
    await expect.poll(() => page.locator('.log-line.match').textContent()).toBe(before);
    expect(await page.getByRole('button', { name: /^Load earlier/ }).count()).toBe(1); // more before it still
    await context.close();
  });

  it('draws a 300-task run whole while it waits, folds its task table, and updates it live', async () => {
    // Run 1 holds the pipeline's only slot, so run 2 (300 tasks in 30 layers) waits with every task drawn.
    await apply(grpc, 'id: big-ui\nparallelism: 1\ntasks:\n  - id: hold\n    image: busybox:latest\n    script: sleep 300\n');
    const holder = await startRun(grpc, 'big-ui');
    const ids = (layer: number) => Array.from({ length: 10 }, (_, i) => `l${layer}-t${i}`);
    const tasks = Array.from({ length: 30 }, (_, layer) => ids(layer).map((id, i) => {
      const parents = layer === 0 ? '' : `, depends_on: { l${layer - 1}-t${i}: success, l${layer - 1}-t${(i + 3) % 10}: any }`;
      return `  - { id: ${id}, image: busybox:latest, script: 'true'${parents} }`;
    })).flat();
    await apply(grpc, `id: big-ui\nparallelism: 1\ntasks:\n${tasks.join('\n')}\n`);
    const big = await startRun(grpc, 'big-ui');

    const { context, page } = await open(`/ui/namespaces/default/pipelines/big-ui/runs/${big.id}`);
    await signIn(page, cluster.token);
    await page.getByTestId('dag').waitFor();
    expect(await page.locator('[data-testid="dag"] g.node').count()).toBe(300);
    // Left to right: each task is drawn right of its parents.
    const x = async (task: string) => (await page.locator(`g.node[data-task="${task}"]`).boundingBox())!.x;
    expect(await x('l1-t0')).toBeGreaterThan(await x('l0-t0'));
    expect(await x('l29-t9')).toBeGreaterThan(await x('l28-t6'));
    const folded = page.getByTestId('tasks-folded');
    expect(await folded.locator('summary').textContent()).toBe('All 300 tasks: 300 waiting');
    expect(await page.getByTestId('timeline').count()).toBe(0); // no task has started: nothing to chart
    await page.screenshot({ path: join(SCREENSHOTS, 'run-300-tasks.png') });

    // Cancelling the waiting run turns all 300 cancelled from the event stream, without a reload.
    await page.evaluate('window.__notReloaded = true');
    await grpc.cancelRun({ namespaceId: 'default', pipelineId: 'big-ui', runId: big.id });
    await expect.poll(() => folded.locator('summary').textContent(), { timeout: 60_000 }).toBe('All 300 tasks: 300 cancelled');
    expect(await page.locator('g.node[data-status="cancelled"]').count()).toBe(300);
    expect(await page.evaluate('window.__notReloaded')).toBe(true);
    await folded.locator('summary').click();
    expect(await folded.locator('tr[data-task]').count()).toBe(300);
    await grpc.cancelRun({ namespaceId: 'default', pipelineId: 'big-ui', runId: holder.id });
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
