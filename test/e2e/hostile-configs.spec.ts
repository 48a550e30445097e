import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GrpcStatus, type GoferClient } from '@gofer/proto';
import { TestCluster, type GoferProcess } from '../support/gofer-process.js';
import { apply } from '../support/runs.js';

/** Largest status message the API sends (what standard gRPC clients accept as metadata, with room to spare). */
const MAX_DETAILS_BYTES = 4096;

type Format = 'CONFIG_FORMAT_UNSPECIFIED' | 'CONFIG_FORMAT_YAML' | 'CONFIG_FORMAT_JSON';

/** `n` tasks, each depending on a misspelling of its own id: every dependency is unknown, and close to many ids. */
function unknownParents(n: number, parentsPerTask = 1): string {
  const lines = ['id: hostile', 'tasks:'];
  for (let i = 0; i < n; i++) {
    const id = `task-${String(i).padStart(5, '0')}`;
    const parents = Array.from({ length: parentsPerTask }, (_, p) => `tsak-${String((i + p) % n).padStart(5, '0')}: success`);
    lines.push(`  - {id: ${id}, image: b, depends_on: {${parents.join(', ')}}}`);
  }
  return `${lines.join('\n')}\n`;
}

/** One cycle through `n` tasks with 64-character ids. */
function longCycle(n: number): string {
  const id = (i: number) => `t${String(i).padStart(4, '0')}`.padEnd(64, 'x');
  const lines = ['id: cycle', 'tasks:'];
  for (let i = 0; i < n; i++) lines.push(`  - {id: ${id(i)}, image: b, depends_on: {${id((i + n - 1) % n)}: success}}`);
  return `${lines.join('\n')}\n`;
}

describe('hostile configs and request strings', () => {
  let cluster: TestCluster;
  let gofer: GoferProcess;
  let client: GoferClient;

  beforeAll(async () => {
    cluster = await TestCluster.create('hostile');
    gofer = await cluster.start('api');
    client = cluster.client();
    await apply(client, 'id: exists\ntasks:\n  - { id: a, image: "busybox:latest" }\n');
  });
  afterAll(async () => cluster?.destroy());

  const refusal = (call: Promise<unknown>) =>
    call.then(
      () => ({ code: GrpcStatus.OK as number, details: '' }),
      (error: { code: number; details: string }) => ({ code: error.code, details: error.details }),
    );
  const applyConfig = (config: string, format: Format | number = 'CONFIG_FORMAT_UNSPECIFIED') =>
    client.applyPipelineConfig({ namespaceId: 'default', config: Buffer.from(config), format: format as never });
  const listPipelineIds = async () =>
    (await client.listPipelines({ namespaceId: 'default', limit: 0, offset: 0 })).pipelines.map((p) => p.id);

  it('refuses a 10,000-task config at the task limit, and answers other calls meanwhile', async () => {
    const config = unknownParents(10_000);
    expect(Buffer.byteLength(config)).toBeLessThan(1024 * 1024);
    const applied = refusal(applyConfig(config));
    expect(await listPipelineIds()).toEqual(['exists']);
    expect(await applied).toEqual({
      code: GrpcStatus.INVALID_ARGUMENT,
      details: 'tasks: too many tasks (10000): at most 2000 are allowed; split the pipeline into several',
    });
  });

  it('parses a large config off the event loop: calls made meanwhile are not held up by it', async () => {
    // 500 tasks of 70 variables each: about 1 MiB, valid, and about a second of YAML parsing.
    const lines = ['id: large', 'tasks:'];
    for (let t = 0; t < 500; t++) {
      const variables = Array.from({ length: 70 }, (_, v) => `V${v}: value-${t}-${v}-${'x'.repeat(8)}`).join(', ');
      lines.push(`  - {id: t${t}, image: busybox, script: "true", variables: {${variables}}}`);
    }
    const config = `${lines.join('\n')}\n`;
    expect(Buffer.byteLength(config)).toBeGreaterThan(900 * 1024);
    expect(Buffer.byteLength(config)).toBeLessThan(1024 * 1024);
    // Cheap calls, one after another, for as long as the apply is in flight. Parsed on the event loop,
    // the document would hold one of them for as long as the parse takes: most of the apply's time.
    let done = false;
    const started = performance.now();
    const applied = applyConfig(config).finally(() => (done = true));
    let longestWait = 0;
    let calls = 0;
    while (!done) {
      const sent = performance.now();
      await client.getSystemInfo({});
      longestWait = Math.max(longestWait, performance.now() - sent);
      calls++;
    }
    await applied;
    const applyTook = performance.now() - started;
    expect(calls).toBeGreaterThan(1);
    expect(longestWait, `longest wait ${longestWait.toFixed(0)} ms of an apply taking ${applyTook.toFixed(0)} ms`).toBeLessThan(applyTook / 2);
    expect((await client.getPipeline({ namespaceId: 'default', id: 'large' })).pipeline?.latestConfigVersion).toBe(1);
    await client.deletePipeline({ namespaceId: 'default', id: 'large' }); // the tests below list exactly what they expect
  });

  it('reports a 500-task config full of unknown near-miss parents in one bounded message', async () => {
    const config = unknownParents(500, 40);
    expect(Buffer.byteLength(config)).toBeLessThan(1024 * 1024);
    const applied = refusal(applyConfig(config));
    expect(await listPipelineIds()).toEqual(['exists']);
    const { code, details } = await applied;
    expect(code).toBe(GrpcStatus.INVALID_ARGUMENT);
    expect(Buffer.byteLength(details)).toBeLessThanOrEqual(MAX_DETAILS_BYTES);
    const lines = details.split('\n');
    expect(lines[0]).toBe('tasks[0].depends_on.tsak-00000: unknown task "tsak-00000" (did you mean "task-00000"?)');
    expect(lines.at(-1)).toMatch(/^… and \d+ more problems \(\d+ bytes left out\)$/);
  });

  it('reports a 500-task cycle of 64-character ids as INVALID_ARGUMENT, briefly', async () => {
    const { code, details } = await refusal(applyConfig(longCycle(500)));
    expect(code).toBe(GrpcStatus.INVALID_ARGUMENT);
    expect(Buffer.byteLength(details)).toBeLessThanOrEqual(MAX_DETAILS_BYTES);
    expect(details).toMatch(/^tasks: cycle of 500 tasks: t0000x+ -> t0001x+ -> .* -> … 49\d more … -> .* -> t0000x+$/);
  });

  const strings: Array<[string, string, string]> = [
    ['a NUL in a YAML description', 'id: nul-a\ndescription: "a\\0b"\ntasks: [{ id: a, image: b }]\n', 'description: contains a NUL character'],
    ['a NUL in a YAML script', 'id: nul-b\ntasks: [{ id: a, image: b, script: "echo \\0" }]\n', 'tasks[0].script: contains a NUL character'],
    ['a NUL in a YAML variable', 'id: nul-c\ntasks: [{ id: a, image: b, variables: { A: "x\\0" } }]\n', 'tasks[0].variables.A: contains a NUL character'],
    ['a NUL in a YAML variable name', 'id: nul-d\ntasks: [{ id: a, image: b, variables: { "A\\0": x } }]\n', 'tasks[0].variables["A\\u0000"]: this key contains a NUL character'],
    ['a NUL in a YAML image', 'id: nul-e\ntasks: [{ id: a, image: "b\\0" }]\n', 'tasks[0].image: contains a NUL character'],
    ['a NUL in JSON', '{"id": "nul-f", "description": "\\u0000", "tasks": [{"id": "a", "image": "b"}]}', 'description: contains a NUL character'],
    ['a lone surrogate in JSON', '{"id": "nul-g", "tasks": [{"id": "a", "image": "b", "script": "\\ud800"}]}', 'tasks[0].script: contains a lone surrogate (\\ud800), which is not Unicode text'],
    ['a lone surrogate in YAML', 'id: nul-h\ntasks: [{ id: a, image: b, variables: { A: "\\udc00x" } }]\n', 'tasks[0].variables.A: contains a lone surrogate (\\udc00), which is not Unicode text'],
  ];

  it.each(strings)('refuses %s, naming the field', async (_name, config, message) => {
    const { code, details } = await refusal(applyConfig(config));
    expect({ code, details }).toEqual({ code: GrpcStatus.INVALID_ARGUMENT, details: expect.stringContaining(message) });
  });

  it('keeps the values of refused configs out of its logs', async () => {
    const marker = 'marker-2f9c1e7d';
    const { code } = await refusal(applyConfig(`id: nul-i\ndescription: "${marker}\\0"\ntasks: [{ id: a, image: ${marker} }]\n`));
    expect(code).toBe(GrpcStatus.INVALID_ARGUMENT);
    expect(gofer.output()).not.toContain(marker);
  });

  const requests: Array<[string, (c: GoferClient) => Promise<unknown>, string]> = [
    ['a StartRun variable value', (c) => c.startRun({ namespaceId: 'default', pipelineId: 'exists', variables: { A: 'x\0y' } }), 'variables.A: contains a NUL character'],
    ['a StartRun variable name', (c) => c.startRun({ namespaceId: 'default', pipelineId: 'exists', variables: { 'A\0B': 'x' } }), 'variables: key "A\\u0000B" contains a NUL character'],
    ['a secret key', (c) => c.putPipelineSecret({ namespaceId: 'default', pipelineId: 'exists', key: 'k\0', value: 'v' }), 'key: contains a NUL character'],
    ['a secret value', (c) => c.putPipelineSecret({ namespaceId: 'default', pipelineId: 'exists', key: 'k', value: 'v\0' }), 'value: contains a NUL character'],
    ['an object key', (c) => c.deletePipelineObject({ namespaceId: 'default', pipelineId: 'exists', key: 'a\0b' }), 'key: contains a NUL character'],
  ];

  it.each(requests)('refuses a NUL in %s, naming the field', async (_name, call, message) => {
    expect(await refusal(call(client))).toEqual({ code: GrpcStatus.INVALID_ARGUMENT, details: message });
  });

  it('refuses an unknown config format', async () => {
    expect(await refusal(applyConfig('id: fmt-a\ntasks: [{ id: a, image: b }]\n', 99))).toEqual({
      code: GrpcStatus.INVALID_ARGUMENT,
      details: 'format: unknown config format 99',
    });
  });

  it('reads a config sent as JSON as strict JSON', async () => {
    const { code, details } = await refusal(applyConfig('id: fmt-b\ntasks: [{ id: a, image: b }]\n', 'CONFIG_FORMAT_JSON'));
    expect(code).toBe(GrpcStatus.INVALID_ARGUMENT);
    expect(details).toContain('the config is not JSON');
    await applyConfig('{"id": "fmt-c", "tasks": [{"id": "a", "image": "b"}]}', 'CONFIG_FORMAT_JSON');
    await applyConfig('id: fmt-d\ntasks: [{ id: a, image: b }]\n', 'CONFIG_FORMAT_YAML');
    expect(await listPipelineIds()).toEqual(['exists', 'fmt-c', 'fmt-d']);
  });
});
