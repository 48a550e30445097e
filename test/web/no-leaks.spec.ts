// No secret value and no token leaks from the web UI. A real Gofer runs a task that echoes a pipeline
// secret and a global secret; Chromium, signed in with a management token, visits every page while
// the test records everything the page sends, receives, stores and shows: request URLs, headers and
// bodies, response headers and bodies (follow streams that never complete through the DevTools
// protocol), console messages, local and session storage, cookies, IndexedDB, Cache Storage and each
// page's final HTML. No secret value may appear anywhere, raw, base64 or hex; the token only in the
// `authorization` header and in sessionStorage['gofer.token'], never in a URL.
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import type { Browser, BrowserContext, CDPSession, Request, Response } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GoferClient } from '@gofer/proto';
import { launchBrowser, openPage, SCREENSHOTS, signIn } from '../support/browser.js';
import { TestCluster, type GoferProcess } from '../support/gofer-process.js';
import { apply, startRun, waitForRun } from '../support/runs.js';

/** Calls that follow (the run page's and events pages' events): they may send nothing for as long as the page is open. */
const isFollow = (url: string): boolean => url.endsWith('/rpc/gofer.v1.Gofer/ListEvents');

/** Letters and digits only, so URL, JSON and HTML escaping leave it as it is. */
const distinct = (label: string): string => `${label}${randomBytes(16).toString('hex')}`;

/** A value and its encodings a leak could take: hex, and base64 (standard and URL-safe) at each of the three byte alignments. */
function forms(name: string, value: string): Array<{ name: string; bytes: Buffer }> {
  const raw = Buffer.from(value);
  const found = [
    { name, bytes: raw },
    { name: `${name} as hex`, bytes: Buffer.from(raw.toString('hex')) },
    { name: `${name} as HEX`, bytes: Buffer.from(raw.toString('hex').toUpperCase()) },
  ];
  for (const shift of [0, 1, 2]) {
    for (const encoding of ['base64', 'base64url'] as const) {
      // Embedded at another offset, the first and last characters also encode the neighbouring bytes: only the middle is the value's own.
      const encoded = Buffer.concat([Buffer.alloc(shift), raw]).toString(encoding).replace(/=+$/, '');
      found.push({ name: `${name} as ${encoding} at offset ${shift}`, bytes: Buffer.from(encoded.slice(4, -4)) });
    }
  }
  return found;
}

/**
 * Everything a browser context sends, receives and keeps, as labelled bytes ("exhibits"), with the
 * `authorization` headers kept apart: the one place the token belongs.
 */
class Recorder {
  readonly exhibits: Array<{ where: string; bytes: Buffer }> = [];
  readonly authorizations: Array<{ url: string; value: string }> = [];
  /** Responses whose body never completed (follows left open when the page moved on). */
  readonly unfinished: string[] = [];
  readonly problems: string[] = [];
  /** The page being visited, to say where an exhibit came from. */
  label = 'sign-in';
  private readonly inFlight = new Set<Request>();
  private readonly reading = new Set<Promise<void>>();
  /** Recordings of follows, which complete only when their page is gone. */
  private readonly lingering: Array<Promise<void>> = [];
  /** /rpc response bodies as they arrive, by DevTools request id: the only record of a stream that never ends. */
  private readonly streams = new Map<string, { url: string; label: string; buffered: Buffer; chunks: Buffer[] }>();

  constructor(context: BrowserContext, cdp: CDPSession) {
    context.on('request', (request) => {
      if (!isFollow(request.url())) this.inFlight.add(request);
      this.track(this.request(request), isFollow(request.url()));
    });
    context.on('requestfinished', (request) => this.inFlight.delete(request));
    context.on('requestfailed', (request) => this.inFlight.delete(request));
    context.on('response', (response) => this.track(this.response(response), isFollow(response.url())));
    context.on('console', (message) => this.add(`console ${message.type()}`, message.text()));
    cdp.on('Network.responseReceived', ({ requestId, response }) => {
      if (!new URL(response.url).pathname.startsWith('/rpc/')) return;
      const stream = { url: response.url, label: this.label, buffered: Buffer.alloc(0), chunks: [] as Buffer[] };
      this.streams.set(requestId, stream);
      this.track(cdp.send('Network.streamResourceContent', { requestId }).then(
        ({ bufferedData }) => void (stream.buffered = Buffer.from(bufferedData, 'base64')),
        () => undefined, // already complete: response.body() records it
      ));
    });
    cdp.on('Network.dataReceived', ({ requestId, data }) => {
      if (data) this.streams.get(requestId)?.chunks.push(Buffer.from(data, 'base64'));
    });
  }

  add(what: string, data: string | Buffer, label = this.label): void {
    this.exhibits.push({ where: `${label}: ${what}`, bytes: Buffer.isBuffer(data) ? data : Buffer.from(data) });
  }

  /** What is still being loaded or recorded, follows apart. */
  busy(): string[] {
    return [...[...this.inFlight].map((request) => request.url()), ...[...this.reading].map(() => 'a recording in progress')];
  }

  /** Once the pages are closed: waits for the follows' recordings, and adds what the /rpc streams carried. */
  async finish(): Promise<void> {
    await Promise.all(this.lingering);
    for (const stream of this.streams.values()) {
      this.exhibits.push({ where: `${stream.label}: stream of ${stream.url}`, bytes: Buffer.concat([stream.buffered, ...stream.chunks]) });
    }
  }

  /** Everything the DevTools protocol saw arrive on /rpc responses to `method`, on the current page. */
  streamed(method: string): Buffer {
    const mine = [...this.streams.values()].filter((s) => s.label === this.label && s.url.endsWith(`/${method}`));
    return Buffer.concat(mine.flatMap((s) => [s.buffered, ...s.chunks]));
  }

  private track(work: Promise<unknown>, lingering = false): void {
    const done: Promise<void> = work.then(
      () => undefined,
      (error: unknown) => void this.problems.push(String(error)),
    ).finally(() => this.reading.delete(done));
    if (lingering) this.lingering.push(done);
    else this.reading.add(done);
  }

  private async request(request: Request): Promise<void> {
    const { label } = this;
    const url = request.url();
    this.add('request URL', url, label);
    const body = request.postDataBuffer();
    if (body) this.add(`request body of ${url}`, body, label);
    const { authorization, ...headers } = await request.allHeaders();
    if (authorization !== undefined) this.authorizations.push({ url, value: authorization });
    this.add(`request headers of ${url}`, JSON.stringify(headers), label);
  }

  private async response(response: Response): Promise<void> {
    const { label } = this;
    const url = response.url();
    this.add(`response headers of ${url}`, JSON.stringify(await response.allHeaders()), label);
    if (response.status() >= 300 && response.status() < 400) return; // a redirect has no body
    await response.body().then(
      (bytes) => this.add(`response body of ${url}`, bytes, label),
      () => void this.unfinished.push(url),
    );
  }
}

describe('the web UI leaks no secret value and no token', () => {
  let cluster: TestCluster;
  let gofer: GoferProcess;
  let grpc: GoferClient;
  let browser: Browser;
  let origin: string;
  let runId: number;
  const pipelineSecret = distinct('PipelineSecret');
  const globalSecret = distinct('GlobalSecret');
  const lateSecret = distinct('LateSecret');

  beforeAll(async () => {
    cluster = await TestCluster.create('web-no-leaks');
    gofer = await cluster.start();
    grpc = cluster.client();
    origin = `http://${gofer.httpAddr}`;
    // The lengths show the task got the values; the log must show them only masked.
    await apply(grpc, `
id: leaky
tasks:
  - id: talk
    image: busybox:latest
    variables:
      PIPE_VALUE: "pipeline_secret{{DEPLOY_TOKEN}}"
      GLOBAL_VALUE: "global_secret{{REGISTRY_PASS}}"
    script: 'echo "pipeline: $PIPE_VALUE"; echo "global: $GLOBAL_VALUE"; echo "lengths: \${#PIPE_VALUE} \${#GLOBAL_VALUE}"; echo "who: $WHO"'
`);
    await grpc.putPipelineSecret({ namespaceId: 'default', pipelineId: 'leaky', key: 'DEPLOY_TOKEN', value: pipelineSecret });
    await grpc.putGlobalSecret({ key: 'REGISTRY_PASS', value: globalSecret, namespaces: ['default'] });
    runId = (await startRun(grpc, 'leaky', { WHO: 'tester' })).id;
    const { run } = await waitForRun(grpc, 'leaky', runId);
    expect(run.status).toBe('RUN_STATUS_SUCCESSFUL');
    browser = await launchBrowser();
  });
  afterAll(async () => {
    await browser?.close();
    await cluster?.destroy();
  });

  it('shows only masked values, and keeps the token in the authorization header and session storage alone', async () => {
    const token = cluster.token;
    const { context, page } = await openPage(browser, 'about:blank');
    const cdp = await context.newCDPSession(page);
    await cdp.send('Network.enable');
    const recorder = new Recorder(context, cdp);

    /** Waits until the page has loaded what it asked for, then records what it keeps and shows. */
    const settle = async (ready: () => Promise<unknown>): Promise<void> => {
      await expect.poll(() => recorder.busy(), { timeout: 30_000 }).toEqual([]);
      await ready();
      await expect.poll(() => page.locator('.loading').count()).toBe(0);
      await expect.poll(() => recorder.busy(), { timeout: 30_000 }).toEqual([]);
      expect(await page.getByRole('alert').allTextContents()).toEqual([]);
      const kept = await page.evaluate<{ local: Record<string, string>; session: Record<string, string>; indexedDb: unknown[]; caches: unknown[] }>(`(async () => ({
        local: { ...localStorage },
        session: { ...sessionStorage },
        indexedDb: (await indexedDB.databases()).map((db) => db.name),
        caches: await Promise.all((await caches.keys()).map(async (name) => [name, (await (await caches.open(name)).keys()).map((r) => r.url)])),
      }))()`);
      expect(kept.session).toEqual({ 'gofer.token': token }); // the one place it is kept
      recorder.add('localStorage', JSON.stringify(kept.local));
      recorder.add('IndexedDB databases', JSON.stringify(kept.indexedDb));
      recorder.add('Cache Storage', JSON.stringify(kept.caches));
      recorder.add('cookies', JSON.stringify(await context.cookies()));
      recorder.add('page HTML', await page.content());
    };
    const visit = async (label: string, path: string, ready: () => Promise<unknown> = () => page.locator('main h1').first().waitFor()) => {
      recorder.label = label;
      await page.goto(`${origin}/ui${path}`);
      await settle(ready);
    };

    await page.goto(`${origin}/ui/`);
    await signIn(page, token);
    recorder.label = 'namespaces';
    await settle(() => page.getByTestId('namespaces').waitFor());
    const pipeline = '/namespaces/default/pipelines/leaky';
    await visit('pipelines', '/namespaces/default', () => page.getByTestId('pipelines').waitFor());
    await visit('pipeline', pipeline, () => page.getByTestId('runs').waitFor());
    await visit('config', `${pipeline}/config`);
    await visit('objects', `${pipeline}/objects`);
    await visit('pipeline secrets', `${pipeline}/secrets`);
    await visit('run', `${pipeline}/runs/${runId}`, async () => {
      await page.getByTestId('dag').waitFor();
      expect(await page.locator('section > p.muted').first().textContent()).toContain('WHO=tester');
      // A secret stored while the page follows the namespace's events: its key reaches the page, its value must not.
      await grpc.putPipelineSecret({ namespaceId: 'default', pipelineId: 'leaky', key: 'LATE_TOKEN', value: lateSecret });
      await expect.poll(() => recorder.streamed('ListEvents').includes('LATE_TOKEN')).toBe(true);
    });
    await visit('task logs', `${pipeline}/runs/${runId}/tasks/talk`, async () => {
      await expect.poll(() => page.getByTestId('log-state').textContent(), { timeout: 30_000 }).toMatch(/^\d+ lines$/);
      // Masking happened: the task had both values (their lengths), the page shows the mask in their place.
      expect(await page.locator('.log-line').allTextContents()).toEqual([
        'pipeline: [masked]', 'global: [masked]', `lengths: ${pipelineSecret.length} ${globalSecret.length}`, 'who: tester',
      ]);
      await page.screenshot({ path: join(SCREENSHOTS, 'logs-masked.png') });
    });
    await visit('namespace events', '/namespaces/default/events', () => expect.poll(() => page.content()).toContain('secret_put'));
    await visit('events', '/events', () => expect.poll(() => page.content()).toContain('secret_put'));
    await visit('global secrets', '/secrets');
    await visit('tokens', '/tokens');
    await context.close();
    await recorder.finish();

    expect(recorder.problems).toEqual([]);
    // The recording saw what it should, so finding nothing means something: the calls with their
    // header, the masked log in a response body, the follow streams through the DevTools protocol.
    expect(recorder.authorizations.filter(({ url }) => url.includes('/rpc/')).length).toBeGreaterThan(10);
    // Only ever to this server, only ever this token.
    expect(recorder.authorizations.filter(({ url, value }) => value !== `Bearer ${token}` || new URL(url).origin !== origin)).toEqual([]);
    const bodies = (what: string) => recorder.exhibits.filter((e) => e.where.includes(what));
    expect(bodies('response body of').some((e) => e.bytes.includes('pipeline: [masked]'))).toBe(true);
    expect(recorder.unfinished.length).toBeGreaterThan(0);
    expect(recorder.unfinished.filter((url) => !url.endsWith('/ListEvents'))).toEqual([]);
    expect(bodies('stream of').some((e) => e.bytes.includes('LATE_TOKEN'))).toBe(true);

    const needles = [
      ...forms('the pipeline secret', pipelineSecret),
      ...forms('the global secret', globalSecret),
      ...forms('the secret stored while the run page was open', lateSecret),
      ...forms('the token', token),
    ];
    const leaks = recorder.exhibits.flatMap(({ where, bytes }) =>
      needles.filter((needle) => bytes.includes(needle.bytes)).map((needle) => `${needle.name} in ${where}`));
    expect(leaks).toEqual([]);
  });
});
