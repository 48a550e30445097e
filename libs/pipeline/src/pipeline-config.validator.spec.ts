import { describe, expect, it } from 'vitest';
import { formatConfigIssues } from './config-issue.js';
import type { PipelineDocument } from './pipeline-config.js';
import { validatePipelineConfig } from './pipeline-config.validator.js';

function errorsOf(doc: unknown): string[] {
  const result = validatePipelineConfig(doc);
  if (result.ok) throw new Error(`expected the config to be rejected, got ${JSON.stringify(result.config)}`);
  return formatConfigIssues(result.errors).split('\n');
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null) {
    Object.values(value).forEach(deepFreeze);
    Object.freeze(value);
  }
  return value;
}

describe('validatePipelineConfig', () => {
  it('validates a document built in code, without modifying it', () => {
    const doc: PipelineDocument = deepFreeze({
      id: 'build',
      tasks: [
        { id: 'compile', image: 'golang:1.22', script: 'go build ./...', resources: { cpu: '500m', memory: 536870912 } },
        {
          id: 'publish',
          image: 'alpine',
          command: ['sh', '-c', 'echo done'],
          depends_on: { compile: 'success' },
          retries: { attempts: 2 },
          timeout: '1h30m',
        },
      ],
      triggers: [{ trigger: 'interval', label: 'often', settings: { every: '5m' } }],
    });
    const result = validatePipelineConfig(doc);
    expect(result).toStrictEqual({
      ok: true,
      config: {
        id: 'build',
        name: 'build',
        description: '',
        parallelism: 0,
        tasks: [
          {
            id: 'compile',
            description: '',
            image: 'golang:1.22',
            entrypoint: ['/bin/sh', '-c'],
            command: ['go build ./...'],
            variables: {},
            dependsOn: {},
            retries: { attempts: 1, backoffMs: 0 },
            injectApiToken: false,
            resources: { cpu: 0.5, memoryBytes: 536870912 },
          },
          {
            id: 'publish',
            description: '',
            image: 'alpine',
            command: ['sh', '-c', 'echo done'],
            variables: {},
            dependsOn: { compile: 'success' },
            retries: { attempts: 2, backoffMs: 0 },
            timeoutMs: 5_400_000,
            injectApiToken: false,
          },
        ],
        triggers: [{ trigger: 'interval', label: 'often', settings: { every: '5m' } }],
        notifiers: [],
      },
    });
  });

  it('turns numbers and booleans in string fields into strings', () => {
    const result = validatePipelineConfig({
      id: 123,
      tasks: [{ id: 7, image: 'busybox', command: ['sleep', 5], variables: { PORT: 8080, DEBUG: false } }],
    });
    expect(result.ok && result.config.id).toBe('123');
    expect(result.ok && result.config.tasks[0]).toMatchObject({ id: '7', command: ['sleep', '5'], variables: { PORT: '8080', DEBUG: 'false' } });
  });

  it('ignores top-level x- fields', () => {
    const result = validatePipelineConfig({ 'x-anything': { deep: [1, 2] }, id: 'demo', tasks: [{ id: 'a', image: 'b' }] });
    expect(result.ok).toBe(true);
  });

  it.each([
    [null, '(root): the config is empty; a pipeline needs at least an id and tasks'],
    [undefined, '(root): the config is empty; a pipeline needs at least an id and tasks'],
    [42, '(root): expected a mapping of pipeline fields (id, name, tasks …), got 42'],
    [[{ id: 'demo' }], '(root): expected a mapping of pipeline fields (id, name, tasks …), got a list'],
  ])('rejects %j as a whole', (doc, message) => {
    expect(errorsOf(doc)).toStrictEqual([message]);
  });

  it('rejects a document that contains itself', () => {
    const task: Record<string, unknown> = { id: 'a', image: 'b' };
    task.self = task;
    expect(errorsOf({ id: 'demo', tasks: [task] })).toStrictEqual([
      '(root): the config contains itself (a YAML alias inside its own anchor?)',
    ]);
  });

  it('measures shared objects as often as they are used', () => {
    const variables = Object.fromEntries(Array.from({ length: 1000 }, (_, i) => [`V${i}`, 'x'.repeat(100)]));
    const tasks = Array.from({ length: 100 }, (_, i) => ({ id: `t${i}`, image: 'b', variables }));
    expect(errorsOf({ id: 'demo', tasks })).toStrictEqual([
      '(root): the config expands to more than 8 MiB (YAML aliases repeating large parts?); make it smaller',
    ]);
  });

  it('checks the fields of only the first 500 tasks of an oversized list, and dependencies on all', () => {
    const tasks = Array.from({ length: 600 }, (_, i) => ({ id: `t${i}`, image: 'b', depends_on: { [`t${(i + 1) % 600}`]: 'any' } }));
    tasks[3] = { id: 'bad id', image: 'b', depends_on: {} };
    tasks[580]!.image = '';
    // t499 depends on t500, past the limit: that dependency is fine; t2 depends on t3, now renamed.
    expect(errorsOf({ id: 'demo', tasks })).toStrictEqual([
      'tasks[2].depends_on.t3: unknown task "t3"',
      'tasks[3].id: invalid task id "bad id": use 1 to 64 characters a-z, 0-9, _ or -, starting with a letter or digit',
      'tasks: too many tasks (600): at most 500 are allowed; split the pipeline into several',
    ]);
  });

  it('reports too many triggers and notifiers', () => {
    const triggers = Array.from({ length: 51 }, (_, i) => ({ trigger: 'cron', label: `t${i}` }));
    const notifiers = Array.from({ length: 52 }, (_, i) => ({ notifier: 'log', label: `n${i}` }));
    expect(errorsOf({ id: 'demo', tasks: [{ id: 'a', image: 'b' }], triggers, notifiers })).toStrictEqual([
      'triggers: too many triggers (51): at most 50 are allowed; remove some',
      'notifiers: too many notifiers (52): at most 50 are allowed; remove some',
    ]);
  });
});
