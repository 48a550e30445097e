// The web UI's events, objects, secrets and tokens pages and its header in Debian's Chromium, against a
// real Gofer (Postgres, Redis, Docker). Data is set up with the gRPC client and checked back with it.
import { join } from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GoferClient } from '@gofer/proto';
import { launchBrowser, openPage, SCREENSHOTS, signIn } from '../support/browser.js';
import { TestCluster, type GoferProcess } from '../support/gofer-process.js';
import { apply, startRun, waitForRun } from '../support/runs.js';

/** Secret values that must never reach a page. */
const PIPELINE_SECRET_VALUE = 'pipeline-secret-value-3f9c1e';
const GLOBAL_SECRET_VALUE = 'global-secret-value-8a72d4';

describe('the events, objects, secrets and tokens pages in Chromium', () => {
  let cluster: TestCluster;
  let gofer: GoferProcess;
  let grpc: GoferClient;
  let browser: Browser;
  let origin: string;
  let clientToken: { id: string; secret: string };
  let spareToken: { id: string; secret: string };
  let firstRun: number;

  beforeAll(async () => {
    cluster = await TestCluster.create('web-pages');
    gofer = await cluster.start();
    grpc = cluster.client();
    origin = `http://${gofer.httpAddr}`;
    const client = async (metadata: Record<string, string>) => {
      const { token, secret } = await grpc.createToken({ kind: 'TOKEN_KIND_CLIENT' as never, namespaces: ['default'], metadata, expiresInSeconds: 0 });
      return { id: token!.id, secret };
    };
    clientToken = await client({ owner: 'web-test' });
    spareToken = await client({ owner: 'to-disable' });
    await apply(grpc, 'id: hello\nname: Hello\ntasks:\n  - id: greet\n    image: busybox:latest\n    script: echo hi\n');
    await apply(grpc, 'id: quiet\ntasks:\n  - id: a\n    image: busybox:latest\n');
    firstRun = (await startRun(grpc, 'hello')).id;
    await waitForRun(grpc, 'hello', firstRun);
    const ref = { namespaceId: 'default', pipelineId: 'hello' };
    await grpc.putPipelineObject({ ...ref, key: 'build-report' }, Buffer.alloc(2560, 'r'));
    await grpc.putPipelineObject({ ...ref, key: 'to-delete' }, Buffer.from('bye'));
    await grpc.putRunObject({ ...ref, runId: firstRun, key: 'run-artifact' }, Buffer.from('twelve bytes'));
    await grpc.putPipelineSecret({ ...ref, key: 'DEPLOY_KEY', value: PIPELINE_SECRET_VALUE });
    await grpc.putGlobalSecret({ key: 'SHARED_TOKEN', value: GLOBAL_SECRET_VALUE, namespaces: ['default', '/team-.*/'] });
    browser = await launchBrowser();
  });
  afterAll(async () => {
    await browser?.close();
    await cluster?.destroy();
  });

  const open = async (path: string, token = cluster.token): Promise<{ context: BrowserContext; page: Page }> => {
    const { context, page } = await openPage(browser, `${origin}/ui${path}`);
    await signIn(page, token); // a deep link leads to the sign-in, then to the page asked for
    return { context, page };
  };
  const sections = (page: Page) => page.getByRole('navigation', { name: 'Sections' }).getByRole('link');

  it('shows the sections a token may use in the header, the current one marked, and works from the keyboard', async () => {
    const { context, page } = await open('/');
    await page.getByTestId('namespaces').waitFor();
    await expect.poll(() => sections(page).allTextContents()).toEqual(['Namespaces', 'Events', 'Secrets (global)', 'Tokens']);
    expect(await sections(page).getByText('Namespaces').getAttribute('aria-current')).toBe('page');
    await sections(page).getByText('Tokens').focus();
    await page.keyboard.press('Enter');
    await page.getByTestId('tokens').waitFor();
    expect(new URL(page.url()).pathname).toBe('/ui/tokens');
    expect(await page.locator('[aria-current]').allTextContents()).toEqual(['Tokens']);
    // A pipeline's page lies inside Namespaces; the namespace's page links its events.
    await page.goto(`${origin}/ui/namespaces/default`);
    await page.getByTestId('pipelines').waitFor();
    expect(await sections(page).getByText('Namespaces').getAttribute('aria-current')).toBe('true');
    await page.getByRole('link', { name: 'Events in default' }).click();
    await page.getByTestId('events').waitFor();
    expect(new URL(page.url()).pathname).toBe('/ui/namespaces/default/events');
    expect(await page.locator('[aria-current]').allTextContents()).toEqual(['Events']);
    await context.close();
  });

  it('gives a client token no global secrets or tokens links, and shows the server\'s refusal if it goes there', async () => {
    const { context, page } = await open('/', clientToken.secret);
    await page.getByTestId('namespaces').waitFor();
    await expect.poll(() => page.getByTestId('who').textContent()).toMatch(/^client token /);
    expect(await sections(page).allTextContents()).toEqual(['Namespaces', 'Events']);
    await page.goto(`${origin}/ui/tokens`);
    await expect.poll(() => page.getByRole('alert').textContent()).toMatch(/^Not allowed: ListTokens needs a management token/);
    expect(await page.getByTestId('tokens').count()).toBe(0);
    await page.goto(`${origin}/ui/secrets`);
    await expect.poll(() => page.getByRole('alert').textContent()).toMatch(/^Not allowed: ListGlobalSecrets needs a management token/);
    // Its own namespace's events it may follow.
    await page.goto(`${origin}/ui/events`);
    await expect.poll(() => page.locator('tr[data-kind="run_started"]').count()).toBeGreaterThan(0);
    await context.close();
  });

  it('shows the newest stored events first, then new ones live, filtered by kind, with links to what they are about', async () => {
    const { context, page } = await open('/events');
    const rows = page.locator('[data-testid="events"] tbody tr');
    await expect.poll(() => page.locator('tr[data-kind="run_started"]').count()).toBe(1);
    await expect.poll(() => page.getByTestId('feed-state').getAttribute('data-state')).toBe('live');
    const ids = async () => (await rows.evaluateAll((trs) => trs.map((tr) => Number(tr.getAttribute('data-event')))));
    const stored = await ids();
    expect(stored).toEqual([...stored].sort((a, b) => b - a)); // newest at the top
    const kinds = await rows.evaluateAll((trs) => trs.map((tr) => tr.getAttribute('data-kind')));
    expect(kinds).toEqual(expect.arrayContaining(['token_created', 'pipeline_created', 'run_started', 'task_run_completed', 'object_put', 'secret_put']));
    // Details are there, values of secrets are not.
    expect(await page.locator('tr[data-kind="object_put"]').allTextContents()).toEqual([
      expect.stringContaining('{"key":"run-artifact","size":12,'),
      expect.stringContaining('{"key":"to-delete","size":3,'),
      expect.stringContaining('{"key":"build-report","size":2560,'),
    ]);
    const html = await page.content();
    expect(html).not.toContain(PIPELINE_SECRET_VALUE);
    expect(html).not.toContain(GLOBAL_SECRET_VALUE);

    await page.evaluate('window.__notReloaded = true');
    const run = await startRun(grpc, 'hello');
    const started = page.locator('tr[data-kind="run_started"]').first();
    await expect.poll(() => started.getByRole('link', { name: `run ${run.id}` }).count(), { timeout: 30_000 }).toBe(1);
    expect(Number(await started.getAttribute('data-event'))).toBeGreaterThan(stored[0]!);
    expect(await started.getByRole('link', { name: `run ${run.id}` }).getAttribute('href')).toBe(`/ui/namespaces/default/pipelines/hello/runs/${run.id}`);
    expect(await started.getByRole('link', { name: 'hello' }).getAttribute('href')).toBe('/ui/namespaces/default/pipelines/hello');
    await waitForRun(grpc, 'hello', run.id);
    // The task's completion arrives too, its task linked to its logs.
    const completed = page.locator(`tr[data-kind="task_run_completed"]`).first();
    await expect.poll(() => completed.getByRole('link', { name: `run ${run.id}` }).count(), { timeout: 30_000 }).toBe(1);
    expect(await completed.getByRole('link', { name: 'greet' }).getAttribute('href')).toBe(`/ui/namespaces/default/pipelines/hello/runs/${run.id}/tasks/greet`);
    expect(await page.evaluate('window.__notReloaded')).toBe(true);
    await page.screenshot({ path: join(SCREENSHOTS, 'events.png') });

    // A filter is a case-blind substring of the kind: both runs' task starts.
    await page.getByLabel('Kind contains').fill('TASK_RUN_START');
    await expect.poll(async () => new Set(await rows.evaluateAll((trs) => trs.map((tr) => tr.getAttribute('data-kind'))))).toEqual(new Set(['task_run_started']));
    expect(await rows.count()).toBe(2);
    expect(await page.getByTestId('event-count').textContent()).toMatch(/^2 of \d+ events$/);
    await page.getByLabel('Kind contains').fill('no-such-kind');
    await expect.poll(() => page.getByText('No event kind here contains “no-such-kind”.').count()).toBe(1);
    await context.close();
  });

  it('lists a pipeline\'s objects and a run\'s, and deletes one after a confirmation', async () => {
    const { context, page } = await open('/namespaces/default/pipelines/hello/objects');
    await page.getByTestId('objects').waitFor();
    const row = (key: string) => page.locator(`tr[data-object="${key}"]`);
    expect(await page.locator('[data-testid="objects"] tbody tr').count()).toBe(2);
    expect(await row('build-report').locator('td').nth(1).textContent()).toBe('2.5 KiB');
    expect(await row('to-delete').locator('td').nth(1).textContent()).toBe('3 B');
    const sha = (await grpc.listPipelineObjects({ namespaceId: 'default', pipelineId: 'hello' })).objects.find((o) => o.key === 'build-report')!.sha256;
    expect(await row('build-report').locator('td').nth(2).textContent()).toBe(sha.slice(0, 12));
    expect(await page.content()).not.toContain('rrrrrrrrrr'); // never the content
    await page.screenshot({ path: join(SCREENSHOTS, 'objects.png') });

    // Declining the confirmation keeps it; accepting deletes it.
    page.once('dialog', (dialog) => void dialog.dismiss());
    await page.getByRole('button', { name: 'Delete to-delete' }).click();
    page.once('dialog', (dialog) => void dialog.accept());
    await page.getByRole('button', { name: 'Delete to-delete' }).click();
    await expect.poll(() => row('to-delete').count()).toBe(0);
    expect((await grpc.listPipelineObjects({ namespaceId: 'default', pipelineId: 'hello' })).objects.map((o) => o.key)).toEqual(['build-report']);

    await page.getByLabel('Run number').fill(String(firstRun));
    await page.getByRole('button', { name: 'Show the run\'s objects' }).click();
    await page.waitForURL(`${origin}/ui/namespaces/default/pipelines/hello/objects?run=${firstRun}`);
    await expect.poll(() => page.locator('[data-testid="objects"] tbody tr').evaluateAll((trs) => trs.map((tr) => tr.getAttribute('data-object')))).toEqual(['run-artifact']);
    expect(await row('run-artifact').locator('td').nth(1).textContent()).toBe('12 B');
    expect(await page.getByRole('heading', { level: 1 }).textContent()).toBe(`Objects of run #${firstRun}`);
    await page.goto(`${origin}/ui/namespaces/default/pipelines/hello/objects?run=999`);
    await expect.poll(() => page.getByRole('alert').textContent()).toBe('run 999 of pipeline "hello" not found');
    await context.close();
  });

  it('lists a pipeline\'s and the global secrets by key, never their values', async () => {
    const { context, page } = await open('/namespaces/default/pipelines/hello/secrets');
    await page.getByTestId('secrets').waitFor();
    expect(await page.locator('[data-testid="secrets"] tbody tr').evaluateAll((trs) => trs.map((tr) => tr.getAttribute('data-secret')))).toEqual(['DEPLOY_KEY']);
    expect(await page.content()).not.toContain(PIPELINE_SECRET_VALUE);
    await page.screenshot({ path: join(SCREENSHOTS, 'secrets.png') });

    await sections(page).getByText('Secrets (global)').click();
    await page.waitForURL(`${origin}/ui/secrets`);
    await page.locator('tr[data-secret="SHARED_TOKEN"]').waitFor();
    expect(await page.locator('tr[data-secret="SHARED_TOKEN"] code.chip').allTextContents()).toEqual(['default', '/team-.*/']);
    expect(await page.content()).not.toContain(GLOBAL_SECRET_VALUE);
    await page.goto(`${origin}/ui/namespaces/default/pipelines/quiet/secrets`);
    await expect.poll(() => page.getByTestId('no-secrets').textContent()).toBe('No secrets stored for this pipeline.');
    await context.close();
  });

  it('lists tokens without their secrets, disables, enables and deletes one', async () => {
    const { context, page } = await open('/tokens');
    await page.getByTestId('tokens').waitFor();
    const row = (id: string) => page.locator(`tr[data-token="${id}"]`);
    expect(await row(clientToken.id).textContent()).toContain('owner=web-test');
    expect(await row(clientToken.id).locator('td').nth(1).textContent()).toBe('client');
    expect(await row(clientToken.id).getAttribute('data-state')).toBe('enabled');
    const mine = page.locator('tr', { has: page.locator('.chip', { hasText: /^you$/ }) });
    expect(await mine.locator('td').nth(1).textContent()).toBe('management');
    const html = await page.content();
    for (const secret of [cluster.token, clientToken.secret, spareToken.secret]) expect(html).not.toContain(secret);
    await page.screenshot({ path: join(SCREENSHOTS, 'tokens.png') });

    await page.getByRole('button', { name: `Disable token ${spareToken.id}` }).click();
    await expect.poll(() => row(spareToken.id).getAttribute('data-state')).toBe('disabled');
    expect((await grpc.getToken({ id: spareToken.id })).token?.disabled).toBe(true);
    await page.getByRole('button', { name: `Enable token ${spareToken.id}` }).click();
    await expect.poll(() => row(spareToken.id).getAttribute('data-state')).toBe('enabled');
    expect((await grpc.getToken({ id: spareToken.id })).token?.disabled).toBe(false);

    page.once('dialog', (dialog) => void dialog.accept());
    await page.getByRole('button', { name: `Delete token ${spareToken.id}` }).click();
    await expect.poll(() => row(spareToken.id).count()).toBe(0);
    expect((await grpc.listTokens({})).tokens.map((t) => t.id)).not.toContain(spareToken.id);
    await context.close();
  });

  it('says the event feed is reconnecting while Gofer is down, and carries on after it from the last event seen', async () => {
    const { context, page } = await open('/namespaces/default/events');
    await expect.poll(() => page.getByTestId('feed-state').getAttribute('data-state')).toBe('live');
    await page.evaluate('window.__notReloaded = true');
    const stopped = gofer;
    await stopped.kill('SIGKILL');
    await expect.poll(() => page.getByTestId('feed-state').getAttribute('data-state'), { timeout: 30_000 }).toBe('reconnecting');
    expect(await page.getByTestId('feed-state').textContent()).toContain('reconnecting…');
    gofer = await cluster.start('api,worker', { GOFER_GRPC_ADDR: stopped.grpcAddr, GOFER_HTTP_ADDR: stopped.httpAddr });
    await expect.poll(() => page.getByTestId('feed-state').getAttribute('data-state'), { timeout: 30_000 }).toBe('live');
    const run = await startRun(cluster.client(gofer), 'hello');
    await expect.poll(() => page.locator('tr[data-kind="run_started"]').first().getByRole('link', { name: `run ${run.id}` }).count(), { timeout: 30_000 }).toBe(1);
    const ids = await page.locator('[data-testid="events"] tbody tr').evaluateAll((trs) => trs.map((tr) => tr.getAttribute('data-event')));
    expect(new Set(ids).size).toBe(ids.length); // nothing shown twice
    expect(await page.evaluate('window.__notReloaded')).toBe(true);
    await waitForRun(cluster.client(gofer), 'hello', run.id);
    await context.close();
  });
});
