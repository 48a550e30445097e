import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createGoferClient, GrpcStatus, type GoferClient } from '@gofer/proto';
import { TestCluster, type GoferProcess } from '../support/gofer-process.js';
import { apply } from '../support/runs.js';

describe('bad gRPC requests', () => {
  let cluster: TestCluster;
  let client: GoferClient;
  let gofer: GoferProcess;

  beforeAll(async () => {
    cluster = await TestCluster.create('badreq');
    gofer = await cluster.start('api');
    client = cluster.client();
  });
  afterAll(async () => cluster?.destroy());

  const ns = 'default';
  const cases: Array<[string, (c: GoferClient) => Promise<unknown>, number, string]> = [
    ['GetPipeline without id', (c) => c.getPipeline({ namespaceId: ns, id: '' }), GrpcStatus.INVALID_ARGUMENT, 'id: required'],
    ['GetPipeline unknown', (c) => c.getPipeline({ namespaceId: ns, id: 'nope' }), GrpcStatus.NOT_FOUND, 'pipeline "nope" not found in namespace "default"'],
    ['GetPipeline hostile id', (c) => c.getPipeline({ namespaceId: ns, id: '../../etc/passwd' }), GrpcStatus.INVALID_ARGUMENT, 'id: "../../etc/passwd" is not a valid id'],
    ['GetPipeline unknown namespace id chars', (c) => c.getPipeline({ namespaceId: 'NS!', id: 'abc' }), GrpcStatus.INVALID_ARGUMENT, 'namespace_id: "NS!" is not a valid id'],
    ['StartRun unknown pipeline', (c) => c.startRun({ namespaceId: ns, pipelineId: 'ghost', variables: {} }), GrpcStatus.NOT_FOUND, 'pipeline "ghost" not found'],
    ['StartRun missing pipeline and bad namespace, all reported', (c) => c.startRun({ namespaceId: 'Bad NS', pipelineId: '', variables: {} }), GrpcStatus.INVALID_ARGUMENT, 'namespace_id: "Bad NS" is not a valid id\npipeline_id: required'],
    ['ListRuns of an unknown pipeline', (c) => c.listRuns({ namespaceId: ns, pipelineId: 'ghost', limit: 0, offset: 0, states: [], statuses: [], startedBy: '' }), GrpcStatus.NOT_FOUND, 'pipeline "ghost" not found'],
    ['GetRun missing run id', (c) => c.getRun({ namespaceId: ns, pipelineId: 'abc', runId: 0 }), GrpcStatus.INVALID_ARGUMENT, 'run_id: required'],
    ['GetRun negative run id', (c) => c.getRun({ namespaceId: ns, pipelineId: 'abc', runId: -4 }), GrpcStatus.INVALID_ARGUMENT, 'run_id: -4 is not a valid run id'],
    ['GetRun run id past 2^53 is not echoed rounded', (c) => c.getRun({ namespaceId: ns, pipelineId: 'abc', runId: 9223372036854775807 }), GrpcStatus.INVALID_ARGUMENT, 'run_id: out of range (run ids are 1 to 2147483647)'],
    ['GetRun run id 2^31', (c) => c.getRun({ namespaceId: ns, pipelineId: 'abc', runId: 2 ** 31 }), GrpcStatus.INVALID_ARGUMENT, 'run_id: 2147483648 is not a valid run id (run ids are 1 to 2147483647)'],
    ['ListRuns negative limit', (c) => c.listRuns({ namespaceId: ns, pipelineId: 'exists', limit: -1, offset: 0, states: [], statuses: [], startedBy: '' }), GrpcStatus.INVALID_ARGUMENT, 'limit: -1 is negative'],
    ['ListRuns negative offset', (c) => c.listRuns({ namespaceId: ns, pipelineId: 'exists', limit: 0, offset: -1, states: [], statuses: [], startedBy: '' }), GrpcStatus.INVALID_ARGUMENT, 'offset: -1 is negative'],
    ['ListPipelines negative limit and offset, both reported', (c) => c.listPipelines({ namespaceId: ns, limit: -5, offset: -2 }), GrpcStatus.INVALID_ARGUMENT, 'limit: -5 is negative (0 means the server\'s default, 1000; at most 1000)\noffset: -2 is negative'],
    ['ListPipelineConfigs negative limit', (c) => c.listPipelineConfigs({ namespaceId: ns, pipelineId: 'exists', limit: -1, offset: 0 }), GrpcStatus.INVALID_ARGUMENT, 'limit: -1 is negative'],
    ['ListNamespaces negative offset', (c) => c.listNamespaces({ limit: 0, offset: -1 }), GrpcStatus.INVALID_ARGUMENT, 'offset: -1 is negative'],
    ['StartRun with a malformed interpolation in a variable', (c) => c.startRun({ namespaceId: ns, pipelineId: 'exists', variables: { TOKEN: 'pipeline_secret{{DEPLOY' } }), GrpcStatus.INVALID_ARGUMENT, 'variables.TOKEN: unterminated "pipeline_secret{{": write pipeline_secret{{KEY}}'],
    ['GetTaskRun unknown run', (c) => c.getTaskRun({ namespaceId: ns, pipelineId: 'abc', runId: 9, taskId: 'x', attempt: 0 }), GrpcStatus.NOT_FOUND, 'run 9 of pipeline "abc" not found'],
    ['Apply empty config', (c) => c.applyPipelineConfig({ namespaceId: ns, config: Buffer.alloc(0), format: 'CONFIG_FORMAT_UNSPECIFIED' as never }), GrpcStatus.INVALID_ARGUMENT, 'config: required'],
    ['Apply 2 MiB config', (c) => c.applyPipelineConfig({ namespaceId: ns, config: Buffer.alloc(2 * 1024 * 1024, 'a'), format: 'CONFIG_FORMAT_UNSPECIFIED' as never }), GrpcStatus.INVALID_ARGUMENT, 'larger than the 1048576-byte limit'],
    ['Apply binary garbage', (c) => c.applyPipelineConfig({ namespaceId: ns, config: randomBytes(4096), format: 'CONFIG_FORMAT_UNSPECIFIED' as never }), GrpcStatus.INVALID_ARGUMENT, ''],
    ['Apply invalid config lists every error', (c) => c.applyPipelineConfig({ namespaceId: ns, config: Buffer.from('id: x\ntasks:\n  - id: a\n    depends_on: { b: success }\n'), format: 'CONFIG_FORMAT_UNSPECIFIED' as never }), GrpcStatus.INVALID_ARGUMENT, 'tasks[0].image: required'],
    ['Apply into unknown namespace', (c) => c.applyPipelineConfig({ namespaceId: 'nowhere', config: Buffer.from('id: abc\ntasks:\n  - { id: a, image: busybox }\n'), format: 'CONFIG_FORMAT_UNSPECIFIED' as never }), GrpcStatus.NOT_FOUND, 'namespace "nowhere" not found'],
    ['StartRun with bad variable names', (c) => c.startRun({ namespaceId: ns, pipelineId: 'exists', variables: { 'BAD-NAME': 'x', '1X': 'y' } }), GrpcStatus.INVALID_ARGUMENT, 'variables.BAD-NAME: not a valid environment variable name\nvariables.1X: not a valid environment variable name'],
  ];

  it.each(cases)('%s', async (_name, call, code, message) => {
    await apply(client, 'id: exists\ntasks:\n  - { id: a, image: "busybox:latest" }\n');
    const error = await call(client).then(() => undefined, (e: { code: number; details: string }) => e);
    expect(error, 'the call should fail').toBeDefined();
    expect({ code: error!.code, details: error!.details }).toMatchObject({ code, details: expect.stringContaining(message) });
    expect(error!.details).not.toContain('9223372036854776000');
  });

  it('refuses a 6 MiB message at the transport without crashing', async () => {
    const big = createGoferClient({ address: gofer.grpcAddr, token: cluster.token });
    const error = await big
      .applyPipelineConfig({ namespaceId: ns, config: Buffer.alloc(6 * 1024 * 1024, 'x'), format: 'CONFIG_FORMAT_UNSPECIFIED' as never })
      .catch((e: { code: number }) => e);
    expect((error as { code: number }).code).toBe(GrpcStatus.RESOURCE_EXHAUSTED);
    big.close();
  });

  it('survives raw garbage bytes on the gRPC port and keeps serving', async () => {
    const { connect } = await import('node:net');
    const [host, port] = gofer.grpcAddr.split(':');
    await new Promise<void>((resolve) => {
      const socket = connect({ host, port: Number(port) }, () => {
        socket.write(randomBytes(64 * 1024), () => setTimeout(() => socket.destroy(), 500));
      });
      socket.on('close', () => resolve());
      socket.on('error', () => resolve());
    });
    expect((await client.listPipelines({ namespaceId: ns, limit: 0, offset: 0 })).pipelines.map((p) => p.id)).toContain('exists');
    expect(gofer.child.exitCode).toBe(null);
  });
});
