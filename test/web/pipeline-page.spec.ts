// The pipeline page of the web UI (issue 12) in Chromium against a real Gofer: a config's versions
// and the line diff between two, and the runs filtered by outcome and starter, all held in the URL.
import { join } from 'node:path';
import type { Browser, BrowserContext, Locator, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GoferClient } from '@gofer/proto';
import { launchBrowser, openPage, SCREENSHOTS, signIn } from '../support/browser.js';
import { TestCluster, type GoferProcess } from '../support/gofer-process.js';
import { apply, startRun, waitForRun } from '../support/runs.js';

// Version 1 and 2 of one pipeline: one line changed, one removed, two added, the rest the same.
const V1 = `id: cfg
name: Configured
description: the config page's pipeline
tasks:
  - id: build
    image: busybox:latest
    script: echo build
  - id: lint
    image: busybox:latest
    script: echo lint
  - id: unit
    image: busybox:latest
    script: echo unit
    depends_on: { build: success }
  - id: package
    image: busybox:latest
    script: echo package
    depends_on: { unit: success }
  - id: publish
    image: busybox:latest
    script: echo publish
    depends_on: { package: success }
`;
const V2 = V1.replace('    script: echo build\n', '    script: echo build --release\n')
  .replace('  - id: lint\n    image: busybox:latest\n    script: echo lint\n', '')
  .concat('  - id: notify\n    image: busybox:latest\n');

describe('the pipeline page in Chromium', () => {
  let cluster: TestCluster;
  let gofer: GoferProcess;
  let grpc: GoferClient;
  let browser: Browser;
  let origin: string;

  beforeAll(async () => {
    cluster = await TestCluster.create('pipeline-page');
    gofer = await cluster.start();
    grpc = cluster.client();
    origin = `http://${gofer.httpAddr}`;
    browser = await launchBrowser();
  });
  afterAll(async () => {
    await browser?.close();
    await cluster?.destroy();
  });

  const open = async (path: string): Promise<{ context: BrowserContext; page: Page }> => {
    const { context, page } = await openPage(browser, `${origin}${path}`);
    await signIn(page, cluster.token);
    return { context, page };
  };
  /** A block of `<pre>` lines as text, one entry a line, without the newline each ends with. */
  const lines = async (locator: Locator): Promise<string[]> => (await locator.allTextContents()).map((text) => text.replace(/\n$/, ''));
  /** Presses Tab until `target` has the focus: proof that the keyboard reaches it. */
  const tabTo = async (page: Page, target: Locator): Promise<void> => {
    for (let i = 0; i < 300; i++) {
      await page.keyboard.press('Tab');
      if (await target.evaluate((element) => element === element.ownerDocument.activeElement)) return;
    }
    throw new Error(`Tab never reached ${target.toString()}`);
  };
  const focusOutline = (page: Page): Promise<string> => page.evaluate('getComputedStyle(document.activeElement).outlineStyle');

  it('shows the newest config with line numbers, and the lines changed between two versions, both versions in the URL', async () => {
    await apply(grpc, V1);
    await apply(grpc, V2);
    const { context, page } = await open('/ui/namespaces/default/pipelines/cfg/config');
    const text = page.getByTestId('config-text');
    await text.waitFor();
    // The newest version, exactly as applied, a line each, numbered from 1.
    expect(await lines(text.locator('.code-line'))).toEqual(V2.replace(/\n$/, '').split('\n'));
    expect(await text.locator('.code-line').first().getAttribute('data-line')).toBe('1');
    expect(await page.getByTestId('config-about').textContent()).toMatch(/^v2 · YAML · applied .+ · 5 tasks$/);
    const tabs = page.getByRole('navigation', { name: 'Pipeline' });
    expect(await tabs.getByRole('link').allTextContents()).toEqual(['Runs', 'Config', 'Objects', 'Secrets']);
    expect(await tabs.locator('[aria-current="page"]').textContent()).toBe('Config');
    expect(await tabs.getByRole('link', { name: 'Objects' }).getAttribute('href')).toBe('/ui/namespaces/default/pipelines/cfg/objects');
    // The version list, newest first, with each version's tasks.
    expect(await page.locator('[data-testid="versions"] tbody tr').evaluateAll((rows) => rows.map((row) => row.getAttribute('data-version')))).toEqual(['2', '1']);
    expect(await page.locator('tr[data-version="1"]').textContent()).toContain('build, lint, unit, package, publish');
    await page.screenshot({ path: join(SCREENSHOTS, 'config.png'), fullPage: true });

    // Compare with version 1: Tab reaches the select (its focus visible), then the button.
    const compare = page.getByLabel('Compare with');
    await tabTo(page, compare);
    expect(await focusOutline(page)).not.toBe('none');
    await compare.selectOption('1');
    await tabTo(page, page.getByRole('button', { name: 'Show', exact: true }));
    await page.keyboard.press('Enter');
    await page.waitForURL(`${origin}/ui/namespaces/default/pipelines/cfg/config?version=2&compare=1`);
    const diff = page.getByTestId('config-diff');
    await diff.waitFor();
    const changed = { added: ['+ ' + '    script: echo build --release', '+   - id: notify', '+     image: busybox:latest'], removed: ['-     script: echo build', '-   - id: lint', '-     image: busybox:latest', '-     script: echo lint'] };
    const shownChanges = async () => ({ added: await lines(diff.locator('ins.diff-line.added')), removed: await lines(diff.locator('del.diff-line.removed')) });
    expect(await shownChanges()).toEqual(changed);
    expect(await page.getByTestId('diff-about').textContent()).toContain('3 lines added, 4 removed');
    // Unchanged lines away from a change fold (the 3 at the top, the 6 between); a fold opens from the keyboard.
    const folds = diff.getByRole('button', { name: /unchanged lines/ });
    expect(await folds.allTextContents()).toEqual(['⋯ 3 unchanged lines (show)', '⋯ 6 unchanged lines (show)']);
    const unchanged = () => lines(diff.locator('.diff-line.same'));
    expect(await unchanged()).not.toContain('      script: echo package');
    await tabTo(page, folds.nth(1));
    await page.keyboard.press('Enter');
    await expect.poll(unchanged).toContain('      script: echo package');
    expect(await folds.count()).toBe(1);
    await page.screenshot({ path: join(SCREENSHOTS, 'config-diff.png'), fullPage: true });

    // A deep link: a reload shows the same diff; back goes to the config alone, forward to the diff.
    await page.reload();
    await diff.waitFor();
    expect(await shownChanges()).toEqual(changed);
    expect(await page.getByLabel('Compare with').inputValue()).toBe('1');
    await page.goBack();
    await text.waitFor();
    expect(new URL(page.url()).search).toBe('');
    expect(await diff.count()).toBe(0);
    await page.goForward();
    await diff.waitFor();
    expect(await shownChanges()).toEqual(changed);

    // The version list's links: version 1 alone, with its own text.
    await page.locator('tr[data-version="1"]').getByRole('link', { name: 'v1' }).click();
    await page.waitForURL(/\/config\?version=1$/);
    await expect.poll(async () => lines(text.locator('.code-line'))).toEqual(V1.replace(/\n$/, '').split('\n'));
    await page.goto(`${origin}/ui/namespaces/default/pipelines/cfg/config?version=7`);
    await expect.poll(() => page.getByRole('alert').textContent()).toBe('version 7 not found: this pipeline has versions 1 to 2');
    await context.close();
  });

  it('pages through many versions, and deep-links to versions past the first page', async () => {
    const config = (n: number) => `id: many\ndescription: version ${n}\ntasks:\n  - id: a\n    image: busybox:latest\n`;
    for (let n = 1; n <= 52; n++) await apply(grpc, config(n));
    const { context, page } = await open('/ui/namespaces/default/pipelines/many/config?version=1&compare=2');
    const diff = page.getByTestId('config-diff');
    await diff.waitFor();
    expect(await lines(diff.locator('del.diff-line'))).toEqual(['- description: version 2']);
    expect(await lines(diff.locator('ins.diff-line'))).toEqual(['+ description: version 1']);
    const listed = () => page.locator('[data-testid="versions"] tbody tr').evaluateAll((rows) => rows.map((row) => Number(row.getAttribute('data-version'))));
    const newestFirst = Array.from({ length: 52 }, (_, i) => 52 - i);
    expect(await listed()).toEqual(newestFirst.slice(0, 50));
    await page.getByRole('button', { name: 'Show older versions' }).click();
    await expect.poll(listed).toEqual(newestFirst);
    expect(await page.getByRole('button', { name: 'Show older versions' }).count()).toBe(0);
    await context.close();
  });

  it('filters the runs by outcome and by who started them, the filters in the URL', async () => {
    await apply(grpc, 'id: flaky\ntasks:\n  - id: check\n    image: busybox:latest\n    script: \'test "$FAIL" != yes\'\n');
    const issued = await grpc.createToken({ kind: 'TOKEN_KIND_CLIENT' as never, namespaces: ['default'], metadata: {}, expiresInSeconds: 0 });
    const other = cluster.client(undefined, issued.secret);
    const otherBy = `token/${issued.token!.id}`;
    const ok1 = await startRun(grpc, 'flaky');
    const failed1 = await startRun(grpc, 'flaky', { FAIL: 'yes' });
    const ok2 = await startRun(other, 'flaky');
    const failed2 = await startRun(other, 'flaky', { FAIL: 'yes' });
    for (const run of [ok1, failed1, ok2, failed2]) await waitForRun(grpc, 'flaky', run.id);

    const { context, page } = await open('/ui/namespaces/default/pipelines/flaky');
    const rowIds = () => page.locator('[data-testid="runs"] tbody tr').evaluateAll((rows) => rows.map((row) => Number(row.getAttribute('data-run'))));
    const summary = page.getByTestId('runs-summary');
    await expect.poll(rowIds).toEqual([failed2.id, ok2.id, failed1.id, ok1.id]);
    expect(await page.getByRole('navigation', { name: 'Pipeline' }).locator('[aria-current="page"]').textContent()).toBe('Runs');

    await page.getByLabel('Status', { exact: true }).selectOption('failed');
    await page.getByRole('button', { name: 'Filter' }).click();
    await page.waitForURL(`${origin}/ui/namespaces/default/pipelines/flaky?status=failed`);
    await expect.poll(rowIds).toEqual([failed2.id, failed1.id]);
    expect(await page.locator('[data-testid="runs"] .badge').evaluateAll((badges) => badges.map((b) => b.getAttribute('data-status')))).toEqual(['failed', 'failed']);
    expect(await summary.textContent()).toBe('2 runs matching the filters.');
    await page.screenshot({ path: join(SCREENSHOTS, 'runs-filtered.png'), fullPage: true });

    // Who started it, typed and sent with Enter: both filters at once.
    const startedBy = page.getByLabel('Started by', { exact: true });
    await startedBy.fill(otherBy);
    await startedBy.press('Enter');
    await page.waitForURL(`${origin}/ui/namespaces/default/pipelines/flaky?status=failed&started_by=${encodeURIComponent(otherBy)}`);
    await expect.poll(rowIds).toEqual([failed2.id]);
    await page.reload();
    await expect.poll(rowIds).toEqual([failed2.id]);
    expect(await page.getByLabel('Started by', { exact: true }).inputValue()).toBe(otherBy);
    expect(await page.getByLabel('Status', { exact: true }).inputValue()).toBe('failed');
    await page.goBack();
    await expect.poll(rowIds).toEqual([failed2.id, failed1.id]);
    expect(await page.getByLabel('Started by', { exact: true }).inputValue()).toBe('');

    // A prefix ending in "/" takes everyone under it; no trigger started any of these.
    await page.goto(`${origin}/ui/namespaces/default/pipelines/flaky?started_by=token/`);
    await expect.poll(rowIds).toEqual([failed2.id, ok2.id, failed1.id, ok1.id]);
    await page.goto(`${origin}/ui/namespaces/default/pipelines/flaky?status=successful&started_by=trigger/`);
    await expect.poll(() => summary.textContent()).toBe('No runs match these filters.');
    expect(await page.getByTestId('runs').count()).toBe(0);
    // A run's starter is a link to the runs it started.
    await page.getByRole('link', { name: 'Clear filters' }).click();
    await expect.poll(rowIds).toEqual([failed2.id, ok2.id, failed1.id, ok1.id]);
    await page.locator(`tr[data-run="${ok2.id}"]`).getByRole('link', { name: otherBy }).click();
    await page.waitForURL(`${origin}/ui/namespaces/default/pipelines/flaky?started_by=${encodeURIComponent(otherBy)}`);
    await expect.poll(rowIds).toEqual([failed2.id, ok2.id]);
    await context.close();
  });

  it('loads runs past the first 50 with "Load more", focus on the first one loaded', async () => {
    // One run at a time, and the first never ends: 55 runs in progress with a single container.
    await apply(grpc, 'id: held\nparallelism: 1\ntasks:\n  - id: wait\n    image: busybox:latest\n    script: sleep 300\n');
    const ids: number[] = [];
    for (let i = 0; i < 55; i++) ids.push((await startRun(grpc, 'held')).id);
    const newestFirst = ids.toReversed();

    const { context, page } = await open('/ui/namespaces/default/pipelines/held?status=in-progress');
    const rowIds = () => page.locator('[data-testid="runs"] tbody tr').evaluateAll((rows) => rows.map((row) => Number(row.getAttribute('data-run'))));
    await expect.poll(rowIds).toEqual(newestFirst.slice(0, 50));
    expect(await page.getByTestId('runs-summary').textContent()).toBe('50 runs matching the filters, more to load.');
    const more = page.getByRole('button', { name: /^Load 50 more$/ });
    await tabTo(page, more);
    expect(await focusOutline(page)).not.toBe('none');
    await page.keyboard.press('Enter');
    await expect.poll(rowIds).toEqual(newestFirst);
    expect(await more.count()).toBe(0);
    await expect.poll(() => page.evaluate('document.activeElement?.textContent')).toBe(`#${newestFirst[50]}`);
    expect(await page.getByTestId('runs-summary').textContent()).toBe('55 runs matching the filters.');

    await page.goto(`${origin}/ui/namespaces/default/pipelines/held?status=failed`);
    await expect.poll(() => page.getByTestId('runs-summary').textContent()).toBe('No runs match these filters.');
    await page.goto(`${origin}/ui/namespaces/default/pipelines/held?status=nonsense`);
    await expect.poll(() => page.getByRole('alert').textContent()).toBe('Unknown status filter “nonsense”: showing runs of any status.');
    await expect.poll(rowIds).toEqual(newestFirst.slice(0, 50));
    await grpc.cancelAllRuns({ namespaceId: 'default', pipelineId: 'held' });
    await context.close();
  });
});
