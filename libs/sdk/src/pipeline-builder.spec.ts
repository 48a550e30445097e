import {
  parsePipelineConfig, toPipelineDocument, validatePipelineConfig, type PipelineDocument as ValidatedDocument,
} from '@gofer/pipeline';
import { describe, expect, it } from 'vitest';
import { globalSecret, pipeline, pipelineObject, pipelineSecret, runObject, task, type PipelineDocument } from './pipeline-builder.js';

/** The SDK's document type must stay assignable to the one the validator is written against. */
const compatible = (document: PipelineDocument): ValidatedDocument => document;

/** The example pipeline of docs/design.md §2, built with the SDK. */
const designExample = () =>
  pipeline('hello')
    .name('Hello')
    .description('Says hello, then branches.')
    .parallelism(1)
    .task(task('greet', 'busybox:latest').command('sh', '-c', 'echo "hello $WHO"').variable('WHO', 'world').variable('TOKEN', pipelineSecret('DEPLOY_TOKEN')))
    .task(task('flaky', 'busybox:latest').script('echo trying; exit 3').retries(3, '2s').timeout('10m'))
    .task(task('on_success', 'busybox:latest').dependsOn('greet', 'success'))
    .task(task('on_failure', 'busybox:latest').dependsOn('flaky', 'failure'))
    .task(
      task('finally', 'busybox:latest')
        .dependsOn('on_success', 'any')
        .dependsOn('on_failure', 'any')
        .registryAuth('me', globalSecret('REGISTRY_PASS'))
        .injectApiToken()
        .resources({ cpu: 0.5, memory: '256Mi' }),
    )
    .trigger('cron', 'nightly', { expression: '0 3 * * *' })
    .notifier('log', 'console');

describe('pipeline builder', () => {
  it('builds exactly the document of the design example', () => {
    expect(designExample().build()).toStrictEqual({
      id: 'hello',
      name: 'Hello',
      description: 'Says hello, then branches.',
      parallelism: 1,
      tasks: [
        { id: 'greet', image: 'busybox:latest', command: ['sh', '-c', 'echo "hello $WHO"'], variables: { WHO: 'world', TOKEN: 'pipeline_secret{{DEPLOY_TOKEN}}' } },
        { id: 'flaky', image: 'busybox:latest', script: 'echo trying; exit 3', retries: { attempts: 3, backoff: '2s' }, timeout: '10m' },
        { id: 'on_success', image: 'busybox:latest', depends_on: { greet: 'success' } },
        { id: 'on_failure', image: 'busybox:latest', depends_on: { flaky: 'failure' } },
        {
          id: 'finally', image: 'busybox:latest', depends_on: { on_success: 'any', on_failure: 'any' },
          registry_auth: { user: 'me', pass: 'global_secret{{REGISTRY_PASS}}' }, inject_api_token: true, resources: { cpu: 0.5, memory: '256Mi' },
        },
      ],
      triggers: [{ trigger: 'cron', label: 'nightly', settings: { expression: '0 3 * * *' } }],
      notifiers: [{ notifier: 'log', label: 'console' }],
    });
  });

  it('passes the validator, as an object and as the JSON that gofer pipeline apply sends', () => {
    const document = compatible(designExample().build());
    const validated = validatePipelineConfig(document);
    expect(validated.ok).toBe(true);
    const fromJson = parsePipelineConfig(JSON.stringify(designExample()), { format: 'json' });
    expect(fromJson).toStrictEqual(validated);
  });

  it('round-trips: the validated config written back as a document validates to the same config', () => {
    const first = validatePipelineConfig(designExample().build());
    if (!first.ok) throw new Error(JSON.stringify(first.errors));
    const again = validatePipelineConfig(toPipelineDocument(first.config));
    expect(again).toStrictEqual(first);
  });

  it('leaves the validator to report mistakes, each at its place', () => {
    const result = validatePipelineConfig(pipeline('hi').task(task('a', '').dependsOn('buidl')).build());
    expect(result.ok).toBe(false);
    if (result.ok) return;
    const messages = result.errors.map((issue) => `${issue.path}: ${issue.message}`).join('\n');
    expect(messages).toMatch(/^id: /m);
    expect(messages).toMatch(/tasks\[0\]\.image/);
    expect(messages).toMatch(/tasks\[0\]\.depends_on\.buidl/);
  });

  it('spells every interpolation kind', () => {
    expect([pipelineSecret('A'), globalSecret('B'), pipelineObject('C'), runObject('D')]).toEqual([
      'pipeline_secret{{A}}', 'global_secret{{B}}', 'pipeline_object{{C}}', 'run_object{{D}}',
    ]);
  });

  it('hands out copies: changing the builder later does not change a built document', () => {
    const builder = pipeline('copies').task(task('a', 'busybox:latest'));
    const built = builder.build();
    builder.task(task('b', 'busybox:latest'));
    expect(built.tasks).toHaveLength(1);
  });
});
