// API replicas going away under followers (issue 10, point 5): a replica that gets SIGTERM turns
// unready, lets calls in flight finish and ends its live follows with UNAVAILABLE; one that is SIGKILLed
// just drops them. Either way the CLI's followers, connected through a balancer in front of both
// replicas, reconnect to the other one and resume: the log and the events they print have no gap and
// no line twice.
import { spawn, type ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GOFER_BIN, TestCluster, waitFor, type GoferProcess } from '../support/gofer-process.js';
import { apply, startRun, waitForRun } from '../support/runs.js';
import { TcpBalancer } from '../support/tcp-balancer.js';

const LINES = 60;
/** Prints numbered lines for about 12 s, so the replica can be stopped while followers read it. */
const PIPELINE = `
id: drain
tasks:
  - id: count
    image: busybox:latest
    script: 'i=1; while [ $i -le ${LINES} ]; do echo "line $i"; i=$((i+1)); sleep 0.2; done'
`;
const EXPECTED_LOG = Array.from({ length: LINES }, (_, i) => `line ${i + 1}\n`).join('');

/** A CLI process and what it printed. */
interface Cli {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  exited: Promise<number | null>;
}

describe('API replicas going away under live followers', () => {
  let cluster: TestCluster;
  let balancer: TcpBalancer;
  const apis: GoferProcess[] = [];
  const clis: Cli[] = [];

  beforeAll(async () => {
    cluster = await TestCluster.create('drain');
    apis.push(await cluster.start('api'), await cluster.start('api'));
    balancer = await TcpBalancer.start(apis.map((a) => a.grpcAddr));
    await cluster.start('worker', { GOFER_ADVERTISE_ADDR: balancer.address });
    await apply(cluster.client(apis[0]), PIPELINE);
  });

  afterAll(async () => {
    for (const cli of clis) cli.child.kill('SIGKILL');
    await Promise.all(balancers.map((b) => b.close()));
    await balancer?.close();
    await cluster?.destroy();
  });

  const balancers: TcpBalancer[] = [];

  /** A CLI process talking to `host` (by default the cluster's balancer). */
  function cli(host: string, ...args: string[]): Cli {
    const child = spawn(process.execPath, [GOFER_BIN, '--host', host, ...args], {
      env: { PATH: process.env.PATH ?? '', GOFER_TOKEN: cluster.token },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    const handle = { child, stdout: () => stdout, stderr: () => stderr, exited };
    clis.push(handle);
    return handle;
  }

  /** Live follows of a kind (or both) a replica serves now, from its own /metrics. */
  async function follows(api: GoferProcess, kind = '(?:logs|events)'): Promise<number> {
    const text = await (await fetch(`http://${api.httpAddr}/metrics`)).text();
    return [...text.matchAll(new RegExp(`^gofer_api_follows\\{kind="${kind}"\\} (\\d+)$`, 'gm'))].reduce((n, m) => n + Number(m[1]), 0);
  }

  /**
   * Starts a run with two log followers and two event followers, each through a balancer of its own
   * whose first connection goes to `victim` (then round-robin, skipping a replica that refuses), waits
   * until `victim` serves all four and the logs flow, then lets `stop` take the replica away; checks
   * that every follower printed exactly what happened.
   */
  async function followThrough(victim: GoferProcess, survivor: GoferProcess, stop: () => Promise<void>): Promise<void> {
    const client = cluster.client(survivor);
    const [{ last }] = await cluster.query<{ last: string }>('SELECT coalesce(max(id), 0) AS last FROM events');
    const run = await startRun(client, 'drain');
    const victimFirst = async () => {
      const entry = await TcpBalancer.start([victim.grpcAddr, survivor.grpcAddr]);
      balancers.push(entry);
      return entry.address;
    };
    const logFollowers = await Promise.all([0, 1].map(async () => cli(await victimFirst(), 'taskrun', 'logs', 'drain', String(run.id), 'count', '--follow')));
    const eventFollowers = await Promise.all([0, 1].map(async () => cli(await victimFirst(), 'event', 'list', '--follow', '--after', last, '--output', 'json')));
    await waitFor('the victim to serve every follower and the logs to flow', async () =>
      (await follows(victim, 'logs')) === 2 && (await follows(victim, 'events')) === 2 &&
      logFollowers.every((f) => f.stdout().includes('line 3\n')) ? true : undefined, 60_000);

    await stop();

    const { run: done } = await waitForRun(client, 'drain', run.id, 90_000);
    expect(done.status).toBe('RUN_STATUS_SUCCESSFUL');
    for (const follower of logFollowers) {
      expect(await follower.exited, follower.stderr()).toBe(0);
      expect(follower.stdout()).toBe(EXPECTED_LOG);
    }
    // The events the followers should have printed: everything after `last` up to the run's end.
    const [{ end }] = await cluster.query<{ end: string }>(
      `SELECT max(id) AS end FROM events WHERE run_id = $1 AND kind = 'run_completed'`, [run.id],
    );
    expect(end, 'a run_completed event').toBeTruthy();
    const expected = (await cluster.query<{ id: string }>('SELECT id FROM events WHERE id > $1 AND id <= $2 ORDER BY id', [last, end]))
      .map((row) => Number(row.id));
    for (const follower of eventFollowers) {
      await waitFor('the follower to print the run\'s end', async () => (follower.stdout().includes(`"id":${end},`) ? true : undefined), 30_000);
      follower.child.kill('SIGTERM');
      await follower.exited;
      const ids = follower.stdout().trim().split('\n').map((line) => (JSON.parse(line) as { id: number }).id).filter((id) => id <= Number(end));
      expect(ids).toEqual(expected);
    }
  }

  it('SIGTERM: the replica turns unready, finishes the call in flight, and its followers resume on the other replica', async () => {
    const [victim, survivor] = apis;
    // A download in flight on the victim when it is told to stop: a drain lets it finish.
    const ref = { namespaceId: 'default', pipelineId: 'drain' };
    const object = Buffer.alloc(8 * 1024 * 1024, 'x');
    await cluster.client(survivor).putPipelineObject({ ...ref, key: 'big' }, object);
    const download = cluster.client(victim).getPipelineObject({ ...ref, key: 'big' })[Symbol.asyncIterator]();
    const received: Buffer[] = [];
    const take = (message: { chunk?: Uint8Array | null }) => message.chunk && received.push(Buffer.from(message.chunk));
    take((await download.next()).value); // the object's info
    take((await download.next()).value); // its first chunk

    let exit: Promise<number | null> | undefined;
    await followThrough(victim, survivor, async () => {
      expect((await fetch(`http://${victim.httpAddr}/readyz`)).status).toBe(200);
      exit = victim.kill('SIGTERM');
      // The download holds the drain open, so the replica is still there to ask.
      const body = await waitFor('the victim to report itself unready', async () => {
        const response = await fetch(`http://${victim.httpAddr}/readyz`);
        return response.status === 503 ? ((await response.json()) as { checks: Record<string, string> }) : undefined;
      }, 10_000);
      expect(body.checks.shutdown).toBe('shutting down');
      for (let next = await download.next(); !next.done; next = await download.next()) {
        take(next.value);
      }
      expect(Buffer.concat(received).equals(object)).toBe(true);
    });
    expect(await exit).toBe(0);
    expect(victim.output()).toMatch(/gofer service stopped/);
    // The followers that ended gave their slots back.
    await waitFor('the survivor to release every follow', async () => ((await follows(survivor)) === 0 ? true : undefined), 10_000);
  });

  it('SIGKILL: the followers of a replica that dies resume on the other one', async () => {
    // The replica stopped above comes back where it was, so the balancer has two again.
    const [stopped, victim] = apis;
    apis[0] = await cluster.start('api', { GOFER_GRPC_ADDR: stopped.grpcAddr, GOFER_HTTP_ADDR: stopped.httpAddr });
    await followThrough(victim, apis[0], async () => {
      await victim.kill('SIGKILL');
    });
  });
});
