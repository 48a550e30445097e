import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GrpcStatus, type GoferClient } from '@gofer/proto';
import { Redis } from 'ioredis';
import { GOFER_BIN, TEST_ENCRYPTION_KEY, TestCluster, type GoferProcess } from '../support/gofer-process.js';
import { apply, readLogs, readLogStreams, startRun, waitForRun } from '../support/runs.js';

const unique = () => randomBytes(6).toString('hex');
const PLAIN = `s3cr3t-${unique()}-plain`;
const MULTI = `-----BEGIN TEST KEY-----\nline-one-${unique()}\nline-two-${unique()}\n-----END TEST KEY-----`;
const SHARED = `gl0bal-${unique()}-shared`;
/** Everything that must never be seen: whole values and the lines of the multi-line one. */
const NEEDLES = [PLAIN, SHARED, ...MULTI.split('\n').filter((line) => line.includes('line-'))];

const LEAKY = `
id: leaky
tasks:
  - id: leak
    image: busybox:latest
    variables: { PLAIN: "pipeline_secret{{PLAIN}}", MULTI: "pipeline_secret{{MULTI}}", SHARED: "global_secret{{SHARED}}" }
    script: |
      echo "plain: $PLAIN"
      printf '%s\\n' "$MULTI"
      printf 'split: %s' "$(echo "$PLAIN" | cut -c1-9)"; sleep 0.5; printf '%s done\\n' "$(echo "$PLAIN" | cut -c10-)"
      echo "inside-a-longer-line-\${SHARED}-and-more"
      echo "to stderr: $PLAIN" >&2
`;

function expectNoSecret(where: string, text: string): void {
  for (const needle of NEEDLES) expect(text.includes(needle), `${where} contains a secret value`).toBe(false);
}

/** Every value in the whole Redis database, whatever its type. */
async function dumpRedis(): Promise<string> {
  const redis = new Redis('redis://127.0.0.1:6379');
  let dump = '';
  try {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'COUNT', 1000);
      cursor = next;
      for (const key of keys) {
        const type = await redis.type(key);
        dump += key;
        if (type === 'string') dump += (await redis.getBuffer(key))?.toString('latin1') ?? '';
        else if (type === 'hash') dump += JSON.stringify(await redis.hgetall(key));
        else if (type === 'list') dump += JSON.stringify(await redis.lrange(key, 0, -1));
        else if (type === 'set') dump += JSON.stringify(await redis.smembers(key));
        else if (type === 'zset') dump += JSON.stringify(await redis.zrange(key, 0, -1));
        else if (type === 'stream') {
          for (const [, fields] of await redis.xrangeBuffer(key, '-', '+')) dump += Buffer.concat(fields).toString('latin1');
        }
      }
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
  return dump;
}

describe('secrets: sealed at rest, interpolated into tasks, masked everywhere', () => {
  let cluster: TestCluster;
  let api: GoferProcess;
  let client: GoferClient;

  beforeAll(async () => {
    cluster = await TestCluster.create('secrets');
    api = await cluster.start('api,worker');
    client = cluster.client();
    await apply(client, LEAKY);
    const pipeline = { namespaceId: 'default', pipelineId: 'leaky' };
    await client.putPipelineSecret({ ...pipeline, key: 'PLAIN', value: PLAIN });
    await client.putPipelineSecret({ ...pipeline, key: 'MULTI', value: MULTI });
    await client.putGlobalSecret({ key: 'SHARED', value: SHARED, namespaces: ['/def.*/'] });
  });
  afterAll(async () => cluster?.destroy());

  it('masks every secret the task received, in stored and streamed logs, and leaks it nowhere else', async () => {
    const run = await startRun(client, 'leaky');
    const live = readLogs(client, 'leaky', run.id, 'leak', { follow: true });
    const { run: done } = await waitForRun(client, 'leaky', run.id);
    expect(done.status).toBe('RUN_STATUS_SUCCESSFUL');
    const streamed = await live;
    const stored = await readLogStreams(client, 'leaky', run.id, 'leak');
    expect(stored.stdout).toBe(
      'plain: [masked]\n[masked]\nsplit: [masked] done\ninside-a-longer-line-[masked]-and-more\n',
    );
    expect(stored.stderr).toBe('to stderr: [masked]\n');
    expect(streamed).toContain('split: [masked] done');
    expectNoSecret('the streamed log', streamed);
    expectNoSecret('Redis (live logs, BullMQ jobs, everything)', await dumpRedis());
    const events = await cluster.query<{ kind: string; details: unknown }>('SELECT kind, details FROM events');
    expect(events.length).toBeGreaterThan(0);
    expectNoSecret('the events table', JSON.stringify(events));
    expectNoSecret("Gofer's own logs", api.output());
  });

  it('keeps no plaintext secret in the database dump', () => {
    const dump = spawnSync('pg_dump', ['--data-only', cluster.databaseUrl], { encoding: 'latin1' });
    expect(dump.status, dump.stderr).toBe(0);
    expect(dump.stdout).toContain('COPY public.secrets');
    expectNoSecret('pg_dump', dump.stdout);
  });

  it('returns a value only when asked for it', async () => {
    const pipeline = { namespaceId: 'default', pipelineId: 'leaky' };
    const plain = await client.getPipelineSecret({ ...pipeline, key: 'PLAIN', includeValue: false });
    expect(plain.secret?.value).toBe('');
    const listed = await client.listPipelineSecrets(pipeline);
    expect(listed.secrets.map((s) => [s.key, s.value])).toEqual([['MULTI', ''], ['PLAIN', '']]);
    expect((await client.getPipelineSecret({ ...pipeline, key: 'MULTI', includeValue: true })).secret?.value).toBe(MULTI);
  });

  it('a ciphertext moved to another row does not decrypt (scope and key are authenticated)', async () => {
    const pipeline = { namespaceId: 'default', pipelineId: 'leaky' };
    await client.putPipelineSecret({ ...pipeline, key: 'SWAP_A', value: 'value-a' });
    await client.putPipelineSecret({ ...pipeline, key: 'SWAP_B', value: 'value-b' });
    await cluster.query(`
      UPDATE secrets s SET nonce = o.nonce, ciphertext = o.ciphertext, key_id = o.key_id
        FROM secrets o
       WHERE s.pipeline_id = 'leaky' AND o.pipeline_id = 'leaky'
         AND ((s.key = 'SWAP_A' AND o.key = 'SWAP_B') OR (s.key = 'SWAP_B' AND o.key = 'SWAP_A'))`);
    for (const key of ['SWAP_A', 'SWAP_B']) {
      const error = await client.getPipelineSecret({ ...pipeline, key, includeValue: true }).catch((e: { code: number; details: string }) => e);
      expect(error).toMatchObject({ code: GrpcStatus.FAILED_PRECONDITION, details: expect.stringContaining('cannot be decrypted') });
    }
    await client.deletePipelineSecret({ ...pipeline, key: 'SWAP_A' });
    await client.deletePipelineSecret({ ...pipeline, key: 'SWAP_B' });
  });

  it('a missing secret or a global secret the namespace may not use fails that task with failed_precondition', async () => {
    await apply(client, `
id: needy
tasks:
  - { id: missing, image: busybox:latest, variables: { X: "pipeline_secret{{NOPE}}" }, script: "true" }
  - { id: denied, image: busybox:latest, variables: { X: "global_secret{{ELSEWHERE}}" }, script: "true" }
  - { id: fine, image: busybox:latest, script: "true" }
`);
    await client.putGlobalSecret({ key: 'ELSEWHERE', value: `other-${unique()}`, namespaces: ['production'] });
    const run = await startRun(client, 'needy');
    const { run: done, tasks } = await waitForRun(client, 'needy', run.id);
    expect(done.status).toBe('RUN_STATUS_FAILED');
    expect(tasks.missing.statusReason).toMatchObject({ reason: 'STATUS_REASON_KIND_FAILED_PRECONDITION', description: expect.stringContaining('"NOPE"') });
    expect(tasks.denied.statusReason?.description).toContain('may not be used in namespace "default"');
    expect(tasks.fine.status).toBe('TASK_RUN_STATUS_SUCCESSFUL');
  });

  it('rotates to a new key online, and refuses to start with a wrong key', async () => {
    const newKey = randomBytes(32).toString('base64');
    const rotate = spawnSync(process.execPath, [GOFER_BIN, 'service', 'rotate-key'], {
      encoding: 'utf8',
      env: { PATH: process.env.PATH ?? '', ...cluster.env({ GOFER_ENCRYPTION_KEY: newKey, GOFER_PREVIOUS_ENCRYPTION_KEYS: TEST_ENCRYPTION_KEY }) },
    });
    expect(rotate.status, rotate.stderr).toBe(0);
    expect(rotate.stdout).toMatch(/re-sealed \d+ secret/);
    const keyIds = await cluster.query<{ key_id: string }>('SELECT DISTINCT key_id FROM secrets');
    expect(keyIds).toHaveLength(1);

    await api.kill();
    const wrong = spawnSync(process.execPath, [GOFER_BIN, 'service', 'start'], {
      encoding: 'utf8',
      timeout: 60_000,
      env: { PATH: process.env.PATH ?? '', ...cluster.env({ GOFER_ENCRYPTION_KEY: TEST_ENCRYPTION_KEY, GOFER_GRPC_ADDR: '127.0.0.1:0', GOFER_HTTP_ADDR: '127.0.0.1:0' }) },
    });
    expect(wrong.status).toBe(1);
    expect(wrong.stderr).toMatch(/^gofer: GOFER_ENCRYPTION_KEY does not open this cluster's secrets/);
    expect(wrong.stderr).not.toContain('    at ');

    api = await cluster.start('api,worker', { GOFER_ENCRYPTION_KEY: newKey });
    client = cluster.client(api);
    const pipeline = { namespaceId: 'default', pipelineId: 'leaky' };
    expect((await client.getPipelineSecret({ ...pipeline, key: 'PLAIN', includeValue: true })).secret?.value).toBe(PLAIN);
    expect((await client.getGlobalSecret({ key: 'SHARED', includeValue: true })).secret?.value).toBe(SHARED);
  });
});
