// The run page by keyboard alone, in Chromium against a real Gofer: the DAG is one tab stop, arrow keys
// move between its tasks as drawn, Enter opens a task's logs, the focused task shows a focus ring, and
// the page's one-letter shortcuts (l, r) act, with a confirmation before a run is changed.
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GoferClient } from '@gofer/proto';
import { launchBrowser, openPage, SCREENSHOTS, signIn } from '../support/browser.js';
import { TestCluster, type GoferProcess } from '../support/gofer-process.js';
import { apply, startRun, waitForRun } from '../support/runs.js';

describe('the run page by keyboard', () => {
  let cluster: TestCluster;
  let gofer: GoferProcess;
  let grpc: GoferClient;
  let browser: Browser;
  let origin: string;
  let okRun: number;
  let failedRun: number;

  beforeAll(async () => {
    cluster = await TestCluster.create('web-keyboard');
    gofer = await cluster.start();
    grpc = cluster.client();
    origin = `http://${gofer.httpAddr}`;
    // Three columns as drawn: start; left and right (both after start); finish (after right).
    await apply(grpc, `
id: keys
tasks:
  - id: start
    image: busybox:latest
    script: echo start
  - id: left
    image: busybox:latest
    script: echo left
    depends_on: { start: success }
  - id: right
    image: busybox:latest
    script: echo right
    depends_on: { start: success }
  - id: finish
    image: busybox:latest
    script: echo finish
    depends_on: { right: success }
`);
    await apply(grpc, 'id: keys-fail\ntasks:\n  - id: fail\n    image: busybox:latest\n    script: exit 3\n');
    okRun = (await startRun(grpc, 'keys')).id;
    failedRun = (await startRun(grpc, 'keys-fail')).id;
    await waitForRun(grpc, 'keys', okRun);
    await waitForRun(grpc, 'keys-fail', failedRun);
    browser = await launchBrowser();
  });
  afterAll(async () => {
    await browser?.close();
    await cluster?.destroy();
  });

  /** The task whose DAG node has the focus ('' if focus is elsewhere). */
  const focused = (page: Page): Promise<string> =>
    page.evaluate(`document.activeElement?.closest('a.node-link')?.getAttribute('data-task') ?? ''`);
  /** A node's vertical place in the drawing (its translate's y). */
  const top = async (page: Page, task: string): Promise<number> =>
    Number(/translate\([^ ]+ ([^)]+)\)/.exec((await page.locator(`g.node[data-task="${task}"]`).getAttribute('transform'))!)![1]);

  it('tabs into the DAG, arrows to a task, opens its logs with Enter, and comes back', async () => {
    const runPath = `/ui/namespaces/default/pipelines/keys/runs/${okRun}`;
    const { context, page } = await openPage(browser, `${origin}${runPath}`);
    await signIn(page, cluster.token);
    await page.getByTestId('dag').waitFor();
    expect(await page.getByTestId('dag-keys').textContent()).toContain('Keyboard:');

    // Tab through the page's links until the focus reaches the graph: one stop, at the first task.
    for (let i = 0; i < 20 && (await focused(page)) === ''; i++) await page.keyboard.press('Tab');
    expect(await focused(page)).toBe('start');
    expect(await page.locator('a.node-link[tabindex="0"]').count()).toBe(1);
    const ring = await page.evaluate<{ style: string; width: string }>(
      `(() => { const s = getComputedStyle(document.activeElement); return { style: s.outlineStyle, width: s.outlineWidth }; })()`,
    );
    expect(ring.style).not.toBe('none');
    expect(ring.width).not.toBe('0px');
    await page.screenshot({ path: join(SCREENSHOTS, 'run-keyboard-focus.png') });

    // Nothing before the first column; → to the middle column, ↑ ↓ within it (stopping at its ends).
    await page.keyboard.press('ArrowLeft');
    expect(await focused(page)).toBe('start');
    await page.keyboard.press('ArrowRight');
    const [upper, lower] = (await top(page, 'left')) < (await top(page, 'right')) ? ['left', 'right'] : ['right', 'left'];
    expect(['left', 'right']).toContain(await focused(page));
    await page.keyboard.press('ArrowUp');
    expect(await focused(page)).toBe(upper);
    await page.keyboard.press('ArrowDown');
    expect(await focused(page)).toBe(lower);
    await page.keyboard.press('ArrowDown');
    expect(await focused(page)).toBe(lower);
    await page.keyboard.press('ArrowRight');
    expect(await focused(page)).toBe('finish');
    await page.keyboard.press('Home');
    expect(await focused(page)).toBe('start');
    await page.keyboard.press('End');
    expect(await focused(page)).toBe('finish');
    // Tab leaves the graph rather than walking through every task.
    await page.keyboard.press('Tab');
    expect(await focused(page)).toBe('');
    await page.keyboard.press('Shift+Tab');
    expect(await focused(page)).toBe('finish');

    await page.keyboard.press('Enter');
    await page.waitForURL(`${origin}${runPath}/tasks/finish`);
    await expect.poll(() => page.getByTestId('log-state').textContent(), { timeout: 30_000 }).toBe('1 lines');
    expect(await page.locator('.log-line').allTextContents()).toEqual(['finish']);

    await page.goBack();
    await page.waitForURL(`${origin}${runPath}`);
    await page.getByTestId('dag').waitFor();
    // l: the selected task's logs (the first task on a fresh page).
    await page.keyboard.press('l');
    await page.waitForURL(`${origin}${runPath}/tasks/start`);
    await context.close();
  });

  it('r retries a failed run only once the confirmation is accepted', async () => {
    const runPath = `/ui/namespaces/default/pipelines/keys-fail/runs/${failedRun}`;
    const { context, page } = await openPage(browser, `${origin}${runPath}`);
    await signIn(page, cluster.token);
    await expect.poll(() => page.getByTestId('run-status').getAttribute('data-status')).toBe('failed');
    const asked: string[] = [];
    page.once('dialog', (dialog) => {
      asked.push(dialog.message());
      void dialog.dismiss();
    });
    await page.keyboard.press('r');
    await expect.poll(() => asked).toEqual([`Retry run #${failedRun} as a new run?`]);
    expect(page.url()).toBe(`${origin}${runPath}`);
    expect((await grpc.listRuns({ namespaceId: 'default', pipelineId: 'keys-fail', limit: 0, offset: 0, states: [], statuses: [], startedBy: '' })).runs).toHaveLength(1);

    page.once('dialog', (dialog) => void dialog.accept());
    await page.keyboard.press('r');
    await expect.poll(() => page.url()).toMatch(new RegExp(`/keys-fail/runs/(?!${failedRun}$)\\d+$`));
    await expect.poll(() => page.locator('section > p.muted').first().textContent()).toContain(`retry of run ${failedRun}`);
    await context.close();
  });
});
