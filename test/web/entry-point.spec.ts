// The web UI through the cluster's entry point, for real: deploy/nginx/gofer.conf in Debian's nginx (with
// loopback addresses in place of the compose names and ports, test/support/nginx.ts) in front of a live
// Gofer, and Chromium on its TLS port and on its cleartext HTTP port. The certificate is the one
// docker-compose.yml's entry-point-certificate service makes, made here by that service's own command.
// Proves that the UI loads, signs in and calls the browser API through nginx; that every call went over
// HTTP/2 on the TLS port and HTTP/1.1 on the other, as the page itself reports it; and that server
// streams pass through live and whole: a followed log line printed while the task keeps running reaches
// the page, a followed log ends when the task does, and a run's page turns successful from the one
// events follow it opened, without reloading. That nginx passes streams unbuffered and keeps quiet ones
// open for an hour is checked on the file itself (test/image/compose.spec.ts), not waited for here.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { Agent, request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join, posix } from 'node:path';
import type { TLSSocket } from 'node:tls';
import type { Browser, Page } from 'playwright-core';
import { parse } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GoferClient } from '@gofer/proto';
import { launchBrowser, openPage, SCREENSHOTS, signIn } from '../support/browser.js';
import { freePort, GOFER_BIN, ROOT, TestCluster, waitFor, type GoferProcess } from '../support/gofer-process.js';
import { directives, parseNginxConfig, rewriteForLoopback, startNginx, type NginxProcess } from '../support/nginx.js';
import { apply, startRun, waitForRun } from '../support/runs.js';

const CONF = join(ROOT, 'deploy/nginx/gofer.conf');
/** The container ports gofer.conf uses for the replicas (the image's GOFER_GRPC_ADDR and GOFER_HTTP_ADDR). */
const GRPC_PORT = '8080';
const HTTP_PORT = '8081';

/**
 * Gates a task waits on (tasks run on the host's network, so they reach this loopback server): GET
 * /<name> answers 200 once the test opened it, 404 until then. A task blocks on one with
 * `until wget … /<name>; do sleep 0.2; done`, so what the test sees while it is closed is what the
 * page shows while the task still runs, with no clock involved.
 */
class Gates {
  private readonly opened = new Set<string>();
  private readonly server: Server = createServer((req, res) => {
    res.writeHead(this.opened.has((req.url ?? '/').slice(1)) ? 200 : 404).end();
  });
  port = 0;

  async start(): Promise<void> {
    this.port = await freePort();
    await new Promise<void>((resolve) => this.server.listen(this.port, '127.0.0.1', resolve));
  }

  open(name: string): void {
    this.opened.add(name);
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

interface ComposeService {
  entrypoint?: string[];
  working_dir?: string;
  volumes?: string[];
}

/**
 * Makes the entry point's certificate the way docker-compose.yml does: runs the shell command of the
 * service that writes into deploy/nginx/certs, in `dir` in place of that mount. Returns the mount
 * target of that directory in the nginx service, where gofer.conf's ssl_certificate paths point.
 */
async function composeCertificate(dir: string): Promise<string> {
  const compose = parse(await readFile(join(ROOT, 'docker-compose.yml'), 'utf8'), { merge: true }) as { services: Record<string, ComposeService> };
  const mountsOfCerts = Object.values(compose.services).flatMap((service) =>
    (service.volumes ?? []).filter((v) => v.startsWith('./deploy/nginx/certs:')).map((v) => ({ service, target: v.split(':')[1]! })));
  const maker = mountsOfCerts.find((m) => m.service.entrypoint?.[0] === 'sh');
  const served = mountsOfCerts.find((m) => m.service.entrypoint === undefined);
  expect(maker?.service.working_dir, 'the certificate maker works in the mounted directory').toBe(maker?.target);
  expect(served, 'the nginx service mounts deploy/nginx/certs').toBeDefined();
  const [shell, flag, script] = maker!.service.entrypoint!;
  execFileSync(shell!, [flag!, script!], { cwd: dir, stdio: 'pipe' });
  return served!.target;
}

/** The browser API calls the page's document made that have ended: method and protocol, as the page saw them. */
async function rpcCalls(page: Page): Promise<Array<{ method: string; protocol: string }>> {
  const entries = (await page.evaluate(
    "performance.getEntriesByType('resource').map((e) => ({ name: e.name, protocol: e.nextHopProtocol }))",
  )) as Array<{ name: string; protocol: string }>;
  return entries
    .filter((e) => new URL(e.name).pathname.startsWith('/rpc/'))
    .map((e) => ({ method: new URL(e.name).pathname.split('/').pop()!, protocol: e.protocol }));
}

/** The live event follows a Gofer process serves now, from its own /metrics. */
async function eventFollows(process: GoferProcess): Promise<number> {
  const text = await (await fetch(`http://${process.httpAddr}/metrics`)).text();
  return Number(/^gofer_api_follows\{kind="events"\} (\d+)$/m.exec(text)?.[1] ?? 0);
}

describe('the web UI through the nginx entry point (deploy/nginx/gofer.conf), over HTTP/2 and HTTP/1.1', () => {
  let cluster: TestCluster;
  let gofer: GoferProcess;
  let grpc: GoferClient;
  let nginx: NginxProcess;
  let browser: Browser;
  let dir: string;
  let certificate: Buffer;
  let origins: { https: string; http: string };
  let finishedRun: number;
  const gates = new Gates();

  beforeAll(async () => {
    if (!existsSync(GOFER_BIN)) throw new Error(`${GOFER_BIN} is missing: run npm run build first`);
    if (!existsSync(join(ROOT, 'apps/web/dist/index.html'))) throw new Error('the web UI is not built: run npm run build first');
    dir = await mkdtemp(join(tmpdir(), 'gofer-web-entry-'));
    await gates.start();
    cluster = await TestCluster.create('web_entry');
    gofer = await cluster.start();
    grpc = cluster.client();

    // One process stands for every replica the upstreams list.
    const conf = await readFile(CONF, 'utf8');
    const parsed = parseNginxConfig(conf);
    const replicas = directives(parsed, 'upstream').flatMap((u) => directives(u.block!, 'server').map((s) => s.args[0]!));
    const addresses = Object.fromEntries(replicas.map((address) => [address, address.endsWith(`:${GRPC_PORT}`) ? gofer.grpcAddr : gofer.httpAddr]));
    // The TLS port is the `ssl` listen of the server that also listens on the HTTP port.
    const http = directives(parsed, 'server').map((s) => s.block!).find((s) => directives(s, 'listen').some((l) => l.args[0] === HTTP_PORT))!;
    const tlsListen = directives(http, 'listen').find((l) => l.args.includes('ssl'));
    expect(tlsListen?.args, 'a TLS listen with HTTP/2 beside the HTTP port').toContain('http2');
    const tlsPort = tlsListen!.args[0]!;
    const listen = { [GRPC_PORT]: await freePort(), [HTTP_PORT]: await freePort(), [tlsPort]: await freePort() };
    const mounted = await composeCertificate(dir);
    const files = Object.fromEntries(
      ['ssl_certificate', 'ssl_certificate_key'].flatMap((name) => directives(http, name)).map((d) => {
        const path = d.args[0]!;
        expect(path.startsWith(`${mounted}/`), `${d.name} ${path} lies in the mounted ${mounted}`).toBe(true);
        return [path, join(dir, posix.relative(mounted, path))];
      }),
    );
    expect(Object.keys(files)).toHaveLength(2);
    certificate = await readFile(files[directives(http, 'ssl_certificate')[0]!.args[0]!]!);
    origins = { https: `https://127.0.0.1:${listen[tlsPort]}`, http: `http://127.0.0.1:${listen[HTTP_PORT]}` };
    nginx = await startNginx(rewriteForLoopback(conf, addresses, listen, files), `${origins.http}/healthz`);

    await apply(grpc, 'id: told\ntasks:\n  - id: talk\n    image: busybox:latest\n    script: echo one; echo two; echo three\n');
    // Prints `early`, waits for gate $GATE-1, prints `late`, waits for gate $GATE-2, prints `end`.
    const wait = (gate: string) => `until wget -q -O /dev/null http://127.0.0.1:${gates.port}/$GATE-${gate} 2>/dev/null; do sleep 0.2; done`;
    await apply(grpc, `id: gated\ntasks:\n  - id: talk\n    image: busybox:latest\n    script: 'echo early; ${wait('1')}; echo late; ${wait('2')}; echo end'\n`);
    finishedRun = (await startRun(grpc, 'told')).id;
    await waitForRun(grpc, 'told', finishedRun);
    browser = await launchBrowser();
  });

  afterAll(async () => {
    await browser?.close();
    await nginx?.stop();
    await cluster?.destroy();
    await gates.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  /** Starts a run of `gated` whose gates are named `gate`-1 and -2, and waits for its task to run. */
  async function startGated(gate: string): Promise<number> {
    const run = await startRun(grpc, 'gated', { GATE: gate });
    await waitFor(`run ${run.id}'s task to run`, async () => {
      const { taskRun } = await grpc.getTaskRun({ namespaceId: 'default', pipelineId: 'gated', runId: run.id, taskId: 'talk', attempt: 0 });
      return taskRun?.state === 'TASK_RUN_STATE_RUNNING' ? true : undefined;
    }, 60_000);
    return run.id;
  }

  const taskState = async (runId: number) =>
    (await grpc.getTaskRun({ namespaceId: 'default', pipelineId: 'gated', runId, taskId: 'talk', attempt: 0 })).taskRun?.state;

  for (const [scheme, protocol] of [['https', 'h2'], ['http', 'http/1.1']] as const) {
    it(`runs the UI over ${scheme} with every browser API call over ${protocol}, streams live`, async () => {
      const origin = origins[scheme];
      const tag = scheme;
      const calls: Array<{ method: string; protocol: string }> = [];
      const { context, page, urls } = await openPage(browser, `${origin}/`, { ignoreHTTPSErrors: true });
      try {
        expect(new URL(page.url()).pathname).toBe('/ui/'); // Gofer's redirect, through nginx
        expect(await page.evaluate("performance.getEntriesByType('navigation')[0].nextHopProtocol")).toBe(protocol);

        // Unary: sign in and list the namespaces.
        await signIn(page, cluster.token);
        // The namespaces, or (failing with it) the error the page shows instead.
        await expect.poll(async () => ((await page.getByTestId('namespaces').count()) > 0 ? 'namespaces' : await page.getByRole('alert').textContent({ timeout: 100 }).catch(() => undefined)), { timeout: 30_000 }).toBe('namespaces');
        expect(await page.getByTestId('namespaces').getByRole('link').allTextContents()).toEqual([expect.stringContaining('default')]);
        calls.push(...(await rpcCalls(page)));

        // A finished run's log: a server stream that ends after the stored lines.
        await page.goto(`${origin}/ui/namespaces/default/pipelines/told/runs/${finishedRun}/tasks/talk`);
        const state = page.getByTestId('log-state');
        await expect.poll(() => state.textContent(), { timeout: 60_000 }).toBe('3 lines');
        expect(await page.locator('.log-line').allTextContents()).toEqual(['one', 'two', 'three']);
        calls.push(...(await rpcCalls(page)));

        // A running task's log, followed: a line printed while the task keeps running (its second gate
        // is still closed) reaches the page, and the stream ends when the task does.
        const logRun = await startGated(`${tag}-logs`);
        await page.goto(`${origin}/ui/namespaces/default/pipelines/gated/runs/${logRun}/tasks/talk`);
        await expect.poll(() => page.locator('.log-line').allTextContents(), { timeout: 60_000 }).toEqual(['early']);
        gates.open(`${tag}-logs-1`);
        await expect.poll(() => page.locator('.log-line').allTextContents(), { timeout: 60_000 }).toEqual(['early', 'late']);
        expect(await state.textContent()).toBe('live');
        expect(await taskState(logRun)).toBe('TASK_RUN_STATE_RUNNING');
        gates.open(`${tag}-logs-2`);
        await expect.poll(() => state.textContent(), { timeout: 60_000 }).toBe('3 lines');
        expect(await page.locator('.log-line').allTextContents()).toEqual(['early', 'late', 'end']);
        expect(await page.getByRole('alert').count()).toBe(0);
        calls.push(...(await rpcCalls(page)));

        // A running run's page: it turns successful from its events follow, which stays the one it opened.
        const liveRun = await startGated(`${tag}-run`);
        const before = urls.length;
        const follows = () => urls.slice(before).filter((url) => url.endsWith('/rpc/gofer.v1.Gofer/ListEvents')).length;
        await page.goto(`${origin}/ui/namespaces/default/pipelines/gated/runs/${liveRun}`);
        const node = page.locator('g.node[data-task="talk"]');
        await expect.poll(() => node.getAttribute('data-status'), { timeout: 60_000 }).toBe('running');
        // The page's events follow has reached Gofer (which sends a stream's headers with its first
        // message only), so the run's next events are ones it will be sent.
        await expect.poll(() => eventFollows(gofer), { timeout: 60_000 }).toBeGreaterThanOrEqual(1);
        await page.evaluate('window.__notReloaded = true');
        gates.open(`${tag}-run-1`);
        gates.open(`${tag}-run-2`);
        await expect.poll(() => node.getAttribute('data-status'), { timeout: 60_000 }).toBe('successful');
        expect(await page.getByTestId('run-status').getAttribute('data-status')).toBe('successful');
        expect(await page.evaluate('window.__notReloaded')).toBe(true);
        expect(follows()).toBe(1); // never dropped and opened again (the page reloads its data when it is)
        await page.screenshot({ path: join(SCREENSHOTS, `entry-point-${tag}-run.png`) });
        calls.push(...(await rpcCalls(page)));

        // The page's own account of how each call that ended travelled.
        const methods = new Set(calls.map((c) => c.method));
        for (const method of ['WhoAmI', 'ListNamespaces', 'GetTaskRunLogs', 'GetRun', 'ListTaskRuns']) expect(methods, method).toContain(method);
        expect(calls.filter((c) => c.protocol !== protocol)).toEqual([]);
        expect(calls.filter((c) => c.method === 'GetTaskRunLogs').length).toBeGreaterThanOrEqual(2);
      } finally {
        await context.close();
      }
    });
  }

  it('answers /ui with a redirect to /ui/, and HTTP/1.1 clients on the TLS port too (ALPN)', async () => {
    const ui = await fetch(`${origins.http}/ui`, { redirect: 'manual' });
    expect(ui.status).toBe(301);
    expect(new URL(ui.headers.get('location')!, origins.http).pathname).toBe('/ui/');

    // A client that offers only HTTP/1.1, trusting the entry point's own certificate.
    const answer = await new Promise<{ status: number; version: string; alpn: string | false }>((resolve, reject) => {
      const agent = new Agent({ ca: certificate, ALPNProtocols: ['http/1.1'] });
      const req = httpsRequest(`${origins.https}/readyz`, { agent }, (res) => {
        const alpn = (res.socket as TLSSocket).alpnProtocol ?? false;
        res.resume();
        res.on('end', () => {
          agent.destroy();
          resolve({ status: res.statusCode!, version: res.httpVersion, alpn });
        });
      });
      req.on('error', reject);
      req.end();
    });
    expect(answer).toEqual({ status: 200, version: '1.1', alpn: 'http/1.1' });
  });
});
