import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GoferClient } from '@gofer/proto';
import { freePort, ROOT, TestCluster, waitFor, type GoferProcess } from '../support/gofer-process.js';
import { buildTriggerImage } from '../support/trigger-image.js';
import { apply, startRun, waitForRun } from '../support/runs.js';

const DASHBOARD = join(ROOT, 'deploy/grafana/dashboards/gofer.json');

interface Target { expr?: string; refId?: string }
interface Panel { type: string; title: string; targets?: Target[]; panels?: Panel[] }
interface Dashboard { title: string; uid: string; schemaVersion: number; panels: Panel[]; templating?: { list: Array<{ name: string }> } }

/** Every query panel (rows' nested panels included), with its title and target expressions. */
function queryPanels(dashboard: Dashboard): Panel[] {
  return dashboard.panels.flatMap((p) => (p.type === 'row' ? (p.panels ?? []) : [p]));
}

/**
 * Grafana's own variables become a concrete range (long enough to cover the whole test, so rates and
 * quantiles have samples), the datasource variable is not part of an expression.
 */
function concrete(expr: string): string {
  return expr.replaceAll('$__rate_interval', '5m').replaceAll('$__interval', '5m').replaceAll('$__range', '5m');
}

/**
 * The Grafana dashboard (deploy/grafana/dashboards/gofer.json) against a real Prometheus scraping a
 * live two-API, two-worker cluster: every panel's query must return data (issue 10).
 */
describe('the Grafana dashboard', () => {
  let cluster: TestCluster;
  let client: GoferClient;
  let api: GoferProcess;
  let prometheus: ChildProcess | undefined;
  let promDir: string | undefined;
  let promUrl: string;
  const blockers: number[] = [];

  async function query(expr: string): Promise<unknown[]> {
    const response = await fetch(`${promUrl}/api/v1/query?query=${encodeURIComponent(expr)}`);
    const body = (await response.json()) as { status: string; error?: string; data?: { result: unknown[] } };
    if (body.status !== 'success') throw new Error(`${expr}: ${body.error ?? response.status}`);
    return body.data!.result;
  }

  beforeAll(async () => {
    const image = await buildTriggerImage('trigger-echo', join(ROOT, 'test/triggers/echo.trigger.ts'));
    // A short lease, so a worker leads (and supervises the trigger) soon after it starts.
    cluster = await TestCluster.create('grafana', { GOFER_LEADER_LEASE: '3s' });
    api = await cluster.start('api');
    await cluster.start('api');
    await cluster.start('worker');
    await cluster.start('worker');
    client = cluster.client(api);

    // Trigger panels: an installed trigger, its health (triggers_up, leader) and one webhook event.
    await client.installTrigger({ name: 'echo', image, settings: {} });
    // Notifier panels: any image serves as a notifier here; its run counts as successful or failed.
    await client.installNotifier({ name: 'dash-note', image: 'busybox:latest', settings: {} });

    await apply(client, `
id: dash-dag
tasks:
  - { id: first, image: "busybox:latest", script: "echo one" }
  - { id: second, image: "busybox:latest", script: "echo two", depends_on: { first: success } }
notifiers: [{ notifier: dash-note, label: n }]
`);
    await apply(client, 'id: dash-fail\ntasks: [{ id: a, image: "busybox:latest", script: "exit 1" }]\n');
    await apply(client, 'id: dash-retry\ntasks: [{ id: a, image: "busybox:latest", script: "exit 3", retries: { attempts: 2, backoff: 100ms } }]\n');
    await apply(client, 'id: dash-limit\nparallelism: 1\ntasks: [{ id: block, image: "busybox:latest", script: "sleep 300" }]\n');

    const completed = [];
    for (const id of ['dash-dag', 'dash-fail', 'dash-retry']) completed.push({ id, run: await startRun(client, id) });
    for (let i = 0; i < 2; i++) blockers.push((await startRun(client, 'dash-limit')).id);
    await client.putPipelineObject({ namespaceId: 'default', pipelineId: 'dash-dag', key: 'kept' }, Buffer.from('value'));

    await waitFor('the echo trigger to run', async () => {
      const { trigger } = await client.getTrigger({ name: 'echo' });
      return trigger?.state === 'TRIGGER_STATE_RUNNING' ? trigger : undefined;
    }, 120_000);
    // A subscription needs its trigger running.
    await apply(client, 'id: dash-hooked\ntasks: [{ id: a, image: "busybox:latest", script: "true" }]\ntriggers: [{ trigger: echo, label: hook }]\n');
    const hook = await fetch(`http://${api.httpAddr}/api/external/echo`, {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ key: 'dash-1' }),
    });
    const started = ((await hook.json()) as { message: string }).message;
    expect(started).toMatch(/^started:\d+$/);
    completed.push({ id: 'dash-hooked', run: { id: Number(started.split(':')[1]) } });

    const statuses = [];
    for (const { id, run } of completed) statuses.push((await waitForRun(client, id, run.id)).run.status);
    expect(statuses).toEqual(['RUN_STATUS_SUCCESSFUL', 'RUN_STATUS_FAILED', 'RUN_STATUS_FAILED', 'RUN_STATUS_SUCCESSFUL']);
    const { runs } = await client.listRuns({ namespaceId: 'default', pipelineId: 'dash-limit', limit: 0, offset: 0, states: [], statuses: [], startedBy: '' });
    expect(runs.map((r) => r.state).sort()).toEqual(['RUN_STATE_PENDING', 'RUN_STATE_RUNNING']);

    // A real Prometheus scraping every process each second.
    promDir = mkdtempSync(join(tmpdir(), 'gofer-prometheus-'));
    const targets = cluster.processes.map((p) => p.httpAddr);
    writeFileSync(join(promDir, 'prometheus.yml'), JSON.stringify({
      global: { scrape_interval: '1s', evaluation_interval: '1s' },
      scrape_configs: [{ job_name: 'gofer', metrics_path: '/metrics', static_configs: [{ targets }] }],
    }));
    const promAddr = `127.0.0.1:${await freePort()}`;
    promUrl = `http://${promAddr}`;
    let promOutput = '';
    prometheus = spawn('prometheus', [
      `--config.file=${join(promDir, 'prometheus.yml')}`, `--storage.tsdb.path=${join(promDir, 'data')}`,
      `--web.listen-address=${promAddr}`, '--log.level=warn',
    ], { stdio: ['ignore', 'pipe', 'pipe'] });
    prometheus.stdout!.on('data', (chunk: Buffer) => (promOutput += chunk.toString()));
    prometheus.stderr!.on('data', (chunk: Buffer) => (promOutput += chunk.toString()));
    await waitFor('Prometheus to scrape every process twice', async () => {
      if (prometheus!.exitCode !== null) throw new Error(`prometheus exited: ${promOutput}`);
      const up = (await query('count_over_time(up[5m]) >= 2 and up == 1')) as unknown[];
      return up.length === targets.length ? true : undefined;
    }, 60_000);
  }, 300_000);

  afterAll(async () => {
    if (prometheus && prometheus.exitCode === null) {
      const exited = new Promise((resolveExit) => prometheus!.once('exit', resolveExit));
      prometheus.kill('SIGKILL');
      await exited;
    }
    if (promDir) rmSync(promDir, { recursive: true, force: true });
    for (const runId of blockers) await client?.cancelRun({ namespaceId: 'default', pipelineId: 'dash-limit', runId }).catch(() => undefined);
    await cluster?.destroy();
  });

  it('is a dashboard: a title, a uid and query panels with targets, in rows', () => {
    const dashboard = JSON.parse(readFileSync(DASHBOARD, 'utf8')) as Dashboard;
    expect(dashboard.title).toBe('Gofer');
    expect(dashboard.uid).toMatch(/^[a-z0-9-]{1,40}$/);
    expect(dashboard.schemaVersion).toBeGreaterThanOrEqual(36);
    expect(dashboard.templating?.list.map((v) => v.name)).toContain('DS_PROMETHEUS');
    expect(dashboard.panels.filter((p) => p.type === 'row').map((p) => p.title)).toEqual([
      'Overview', 'Queue', 'Latency', 'Workers and containers', 'API', 'Triggers and notifiers', 'Infrastructure',
    ]);
    const panels = queryPanels(dashboard);
    expect(panels.length).toBeGreaterThan(10);
    for (const panel of panels) {
      expect(panel.title, JSON.stringify(panel)).toBeTruthy();
      expect(panel.targets?.length, panel.title).toBeGreaterThan(0);
      for (const target of panel.targets!) expect(target.expr, panel.title).toMatch(/gofer_/);
    }
  });

  it('every panel query returns data from a live cluster', async () => {
    const dashboard = JSON.parse(readFileSync(DASHBOARD, 'utf8')) as Dashboard;
    const queries = queryPanels(dashboard).flatMap((panel) => panel.targets!.map((t) => ({ title: panel.title, expr: concrete(t.expr!) })));
    // Series appear as processes do the work above and Prometheus scrapes them: poll, bounded, then
    // report every query still empty by its panel.
    let empty: Array<{ title: string; expr: string; error?: string }> = [];
    await waitFor('every panel query to return data', async () => {
      empty = [];
      for (const q of queries) {
        try {
          if ((await query(q.expr)).length === 0) empty.push(q);
        } catch (error) {
          empty.push({ ...q, error: String(error) });
        }
      }
      return empty.length === 0 ? true : undefined;
    }, 60_000).catch(() => undefined);
    expect(empty).toEqual([]);
  });
});
