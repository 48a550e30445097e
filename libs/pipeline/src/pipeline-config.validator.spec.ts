import { describe, expect, it } from 'vitest';
import { formatConfigIssues } from './config-issue.js';
import type { PipelineDocument } from './pipeline-config.js';
import { MAX_SUGGESTION_COMPARISONS, validatePipelineConfig } from './pipeline-config.validator.js';

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

  it('refuses an oversized list on its length alone, before looking at any entry', () => {
    // Every entry is wrong in a way that costs work to report (unknown near-miss parents, bad ids).
    const tasks = Array.from({ length: 10_000 }, (_, i) => ({ id: `T ${i}`, image: '', depends_on: { [`tsak-${i}`]: 'any' } }));
    expect(errorsOf({ id: 'demo', tasks })).toStrictEqual([
      'tasks: too many tasks (10000): at most 2000 are allowed; split the pipeline into several',
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

  describe('text that cannot be stored', () => {
    const task = (fields: Record<string, unknown>) => ({ id: 'demo', tasks: [{ id: 'a', image: 'b', ...fields }] });
    const cases: Array<{ name: string; doc: unknown; errors: string[] }> = [
      { name: 'NUL in the description', doc: { id: 'demo', description: 'a\0', tasks: [{ id: 'a', image: 'b' }] }, errors: ['description: contains a NUL character'] },
      { name: 'NUL in a script', doc: task({ script: 'echo \0' }), errors: ['tasks[0].script: contains a NUL character'] },
      { name: 'NUL in a command argument', doc: task({ command: ['sh', '\0'] }), errors: ['tasks[0].command[1]: contains a NUL character'] },
      { name: 'NUL in a variable', doc: task({ variables: { A: 'x\0y' } }), errors: ['tasks[0].variables.A: contains a NUL character'] },
      {
        name: 'NUL in a variable name',
        doc: task({ variables: { 'A\0': 'x' } }),
        errors: [
          'tasks[0].variables["A\\u0000"]: this key contains a NUL character',
          'tasks[0].variables["A\\u0000"]: invalid variable name "A\\u0000": use letters, digits and _, not starting with a digit',
        ],
      },
      { name: 'NUL in the image', doc: { id: 'demo', tasks: [{ id: 'a', image: 'b\0' }] }, errors: ['tasks[0].image: contains a NUL character'] },
      { name: 'NUL in a registry password', doc: task({ registry_auth: { user: 'u', pass: '\0' } }), errors: ['tasks[0].registry_auth.pass: contains a NUL character'] },
      { name: 'NUL in a trigger setting', doc: { id: 'demo', tasks: [{ id: 'a', image: 'b' }], triggers: [{ trigger: 'cron', label: 'c', settings: { expression: '\0' } }] }, errors: ['triggers[0].settings.expression: contains a NUL character'] },
      { name: 'NUL in an unknown field', doc: task({ extra: { deep: ['\0'] } }), errors: ['tasks[0].extra.deep[0]: contains a NUL character', 'tasks[0].extra: unknown field; known fields are id, description, image, entrypoint, command, script, variables, depends_on, retries, timeout, registry_auth, inject_api_token, resources'] },
      { name: 'a lone high surrogate', doc: task({ script: 'echo \ud800' }), errors: ['tasks[0].script: contains a lone surrogate (\\ud800), which is not Unicode text'] },
      { name: 'a lone low surrogate', doc: task({ description: '\udc00x' }), errors: ['tasks[0].description: contains a lone surrogate (\\udc00), which is not Unicode text'] },
    ];

    it.each(cases)('reports $name at its place', ({ doc, errors }) => {
      expect(errorsOf(doc)).toStrictEqual(errors);
    });

    it('accepts surrogate pairs (emoji) and other control characters', () => {
      expect(validatePipelineConfig(task({ description: 'ok 🚀', script: 'printf "\\x01\\t"' })).ok).toBe(true);
    });

    it('reports an object shared by many places (YAML aliases) once', () => {
      const variables = { A: '\0' };
      const tasks = Array.from({ length: 3 }, (_, i) => ({ id: `t${i}`, image: 'b', variables }));
      expect(errorsOf({ id: 'demo', tasks })).toStrictEqual(['tasks[0].variables.A: contains a NUL character']);
    });

    it('ignores top-level x- fields, which are not stored', () => {
      expect(validatePipelineConfig({ 'x-notes': '\0', id: 'demo', tasks: [{ id: 'a', image: 'b' }] }).ok).toBe(true);
    });
  });

  describe('guesses (did you mean …) within a bounded number of comparisons', () => {
    it('guesses for the first reported unknown dependencies only, as far as the budget goes', () => {
      // 500 tasks, each depending on two misspelt ids: 1,000 unknown tasks, each close to several ids.
      const id = (i: number) => `task-${String(i % 500).padStart(3, '0')}`;
      const miss = (i: number) => `tsak-${String(i % 500).padStart(3, '0')}`;
      const tasks = Array.from({ length: 500 }, (_, i) => ({ id: id(i), image: 'b', depends_on: { [miss(i)]: 'any', [miss(i + 1)]: 'any' } }));
      const errors = errorsOf({ id: 'demo', tasks });
      expect(errors).toHaveLength(101);
      expect(errors[0]).toBe('tasks[0].depends_on.tsak-000: unknown task "tsak-000" (did you mean "task-000"?)');
      expect(errors[99]).toBe('tasks[49].depends_on.tsak-050: unknown task "tsak-050"');
      // Each guess compares with all 500 ids: the budget pays for this many, the rest get none.
      const guesses = errors.filter((line) => line.includes('did you mean')).length;
      expect(guesses).toBe(Math.floor(MAX_SUGGESTION_COMPARISONS / 500));
    });

    it('still guesses every misspelt field name, whose candidates are few', () => {
      const tasks = Array.from({ length: 100 }, (_, i) => ({ id: `t${i}`, image: 'b', imag: 'c' }));
      const errors = errorsOf({ id: 'demo', tasks });
      expect(errors.slice(0, 100).every((line) => line.endsWith('unknown field (did you mean "image"?)'))).toBe(true);
    });
  });

  describe('cycles', () => {
    const cycleOf = (ids: string[]) => ({
      id: 'demo',
      tasks: ids.map((id, i) => ({ id, image: 'b', depends_on: { [ids[(i + ids.length - 1) % ids.length]!]: 'any' } })),
    });

    it('spells a short cycle out in full', () => {
      expect(errorsOf(cycleOf(['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h']))).toStrictEqual(['tasks: cycle a -> b -> c -> d -> e -> f -> g -> h -> a']);
    });

    it('shows a long cycle by its first and last tasks, with the count', () => {
      const ids = Array.from({ length: 500 }, (_, i) => `t${String(i).padStart(3, '0')}`.padEnd(64, 'x'));
      const errors = errorsOf(cycleOf(ids));
      const [a, b, c, d] = ids;
      expect(errors).toStrictEqual([`tasks: cycle of 500 tasks: ${a} -> ${b} -> ${c} -> ${d} -> … 494 more … -> ${ids[498]} -> ${ids[499]} -> ${a}`]);
    });

    it('quotes and shortens ids that are not valid', () => {
      const long = 'L'.repeat(10_000);
      const errors = errorsOf(cycleOf(['a', long]));
      expect(errors.at(-1)).toBe(`tasks: cycle a -> "${'L'.repeat(39)}…" -> a`);
    });
  });
});
