import { describe, expect, it } from 'vitest';
import { formatConfigIssues } from './config-issue.js';
import type { PipelineConfig } from './pipeline-config.js';
import { jsonSyntaxIssue, parsePipelineConfig } from './pipeline-config.parser.js';

/** Strips the indentation shared by all lines, so YAML can be written indented in the table. */
function yaml(strings: TemplateStringsArray, ...values: unknown[]): string {
  const text = strings.reduce((out, part, i) => out + part + (i < values.length ? String(values[i]) : ''), '');
  const lines = text.replace(/^\n/, '').split('\n');
  const indent = Math.min(...lines.filter((line) => line.trim() !== '').map((line) => /^ */.exec(line)![0].length));
  return lines.map((line) => line.slice(indent)).join('\n');
}

function errorsOf(text: string | Uint8Array, maxBytes?: number): string[] {
  const result = parsePipelineConfig(text, { maxBytes });
  if (result.ok) throw new Error(`expected the config to be rejected, got ${JSON.stringify(result.config)}`);
  return formatConfigIssues(result.errors).split('\n');
}

function configOf(text: string | Uint8Array): PipelineConfig {
  const result = parsePipelineConfig(text);
  if (!result.ok) throw new Error(`expected the config to be valid:\n${formatConfigIssues(result.errors)}`);
  return result.config;
}

// The example of docs/design.md §2, verbatim: keep the two identical.
const DESIGN_DOC_EXAMPLE = yaml`
  id: hello                 # ^[a-z0-9][a-z0-9_-]{2,31}$ ; unique in its namespace
  name: Hello
  description: Says hello, then branches.
  parallelism: 1            # max runs in flight; 0 = unlimited. Extra runs wait in state pending.
  tasks:
    - id: greet
      image: busybox:latest
      command: [sh, -c, 'echo "hello $WHO"']
      variables: { WHO: world, TOKEN: "pipeline_secret{{DEPLOY_TOKEN}}" }
    - id: flaky
      image: busybox:latest
      script: "echo trying; exit 3"   # shorthand: entrypoint [/bin/sh, -c] with this script
      retries: { attempts: 3, backoff: 2s }  # optional; exponential from backoff
      timeout: 10m                         # optional; the container is stopped, status failed, reason timeout
    - id: on_success
      image: busybox:latest
      depends_on: { greet: success }
    - id: on_failure
      image: busybox:latest
      depends_on: { flaky: failure }
    - id: finally
      image: busybox:latest
      depends_on: { on_success: any, on_failure: any }
      registry_auth: { user: me, pass: "global_secret{{REGISTRY_PASS}}" }
      inject_api_token: true          # a run-scoped API token in GOFER_TOKEN
      resources: { cpu: 0.5, memory: 256Mi }
  triggers:
    - trigger: cron
      label: nightly
      settings: { expression: "0 3 * * *" }
  notifiers:
    - notifier: log
      label: console
`;

const defaults = { description: '', variables: {}, dependsOn: {}, retries: { attempts: 1, backoffMs: 0 }, injectApiToken: false };

const DESIGN_DOC_EXAMPLE_CONFIG: PipelineConfig = {
  id: 'hello',
  name: 'Hello',
  description: 'Says hello, then branches.',
  parallelism: 1,
  tasks: [
    {
      ...defaults,
      id: 'greet',
      image: 'busybox:latest',
      command: ['sh', '-c', 'echo "hello $WHO"'],
      variables: { WHO: 'world', TOKEN: 'pipeline_secret{{DEPLOY_TOKEN}}' },
    },
    {
      ...defaults,
      id: 'flaky',
      image: 'busybox:latest',
      entrypoint: ['/bin/sh', '-c'],
      command: ['echo trying; exit 3'],
      retries: { attempts: 3, backoffMs: 2000 },
      timeoutMs: 600_000,
    },
    { ...defaults, id: 'on_success', image: 'busybox:latest', dependsOn: { greet: 'success' } },
    { ...defaults, id: 'on_failure', image: 'busybox:latest', dependsOn: { flaky: 'failure' } },
    {
      ...defaults,
      id: 'finally',
      image: 'busybox:latest',
      dependsOn: { on_success: 'any', on_failure: 'any' },
      registryAuth: { user: 'me', pass: 'global_secret{{REGISTRY_PASS}}' },
      injectApiToken: true,
      resources: { cpu: 0.5, memoryBytes: 256 * 1024 * 1024 },
    },
  ],
  triggers: [{ trigger: 'cron', label: 'nightly', settings: { expression: '0 3 * * *' } }],
  notifiers: [{ notifier: 'log', label: 'console', settings: {} }],
};

describe('parsePipelineConfig: valid configs', () => {
  it('parses the docs/design.md §2 example', () => {
    expect(configOf(DESIGN_DOC_EXAMPLE)).toStrictEqual(DESIGN_DOC_EXAMPLE_CONFIG);
  });

  it('parses the same pipeline written as JSON, from bytes as well as text', () => {
    const json = JSON.stringify(
      {
        id: 'hello',
        name: 'Hello',
        description: 'Says hello, then branches.',
        parallelism: 1,
        tasks: [
          {
            id: 'greet',
            image: 'busybox:latest',
            command: ['sh', '-c', 'echo "hello $WHO"'],
            variables: { WHO: 'world', TOKEN: 'pipeline_secret{{DEPLOY_TOKEN}}' },
          },
          {
            id: 'flaky',
            image: 'busybox:latest',
            script: 'echo trying; exit 3',
            retries: { attempts: 3, backoff: '2s' },
            timeout: '10m',
          },
          { id: 'on_success', image: 'busybox:latest', depends_on: { greet: 'success' } },
          { id: 'on_failure', image: 'busybox:latest', depends_on: { flaky: 'failure' } },
          {
            id: 'finally',
            image: 'busybox:latest',
            depends_on: { on_success: 'any', on_failure: 'any' },
            registry_auth: { user: 'me', pass: 'global_secret{{REGISTRY_PASS}}' },
            inject_api_token: true,
            resources: { cpu: 0.5, memory: '256Mi' },
          },
        ],
        triggers: [{ trigger: 'cron', label: 'nightly', settings: { expression: '0 3 * * *' } }],
        notifiers: [{ notifier: 'log', label: 'console' }],
      },
      null,
      '\t',
    );
    expect(configOf(json)).toStrictEqual(DESIGN_DOC_EXAMPLE_CONFIG);
    expect(configOf(new TextEncoder().encode(json))).toStrictEqual(DESIGN_DOC_EXAMPLE_CONFIG);
  });

  it('fills in defaults for a minimal config', () => {
    expect(configOf('{"id": "min", "tasks": [{"id": "a", "image": "busybox"}]}')).toStrictEqual({
      id: 'min',
      name: 'min',
      description: '',
      parallelism: 0,
      tasks: [{ id: 'a', image: 'busybox', ...defaults }],
      triggers: [],
      notifiers: [],
    });
  });

  it('treats empty optional fields (`field:` with no value) as absent', () => {
    const config = configOf(yaml`
      id: demo
      name:
      description:
      tasks:
        - id: a
          image: busybox
          variables:
          depends_on:
          retries:
      triggers:
    `);
    expect(config.name).toBe('demo');
    expect(config.tasks[0]).toStrictEqual({ id: 'a', image: 'busybox', ...defaults });
    expect(config.triggers).toStrictEqual([]);
  });

  it('keeps numbers and booleans in string fields exactly as written', () => {
    const config = configOf(yaml`
      id: 2024
      tasks:
        - id: a
          image: busybox
          command: [sleep, 5, 1.50]
          variables: { VERSION: 1.10, PORT: 8080, DEBUG: true, MODE: 0o755, HEX: 0x1F, BIG: 1e3 }
          registry_auth: { user: 12345, pass: 0123 }
      notifiers:
        - { notifier: webhook, label: hook, settings: { RETRIES: 3, VERIFY: false } }
    `);
    expect(config.id).toBe('2024');
    expect(config.tasks[0]!.command).toStrictEqual(['sleep', '5', '1.50']);
    expect(config.tasks[0]!.variables).toStrictEqual({
      VERSION: '1.10',
      PORT: '8080',
      DEBUG: 'true',
      MODE: '0o755',
      HEX: '0x1F',
      BIG: '1e3',
    });
    expect(config.tasks[0]!.registryAuth).toStrictEqual({ user: '12345', pass: '0123' });
    expect(config.notifiers[0]!.settings).toStrictEqual({ RETRIES: '3', VERIFY: 'false' });
  });

  it('supports anchors, aliases and merge keys, with anchors kept under x- fields', () => {
    const config = configOf(yaml`
      x-defaults: &defaults
        image: busybox
        retries: { attempts: 3, backoff: 1s }
        variables: &vars { STAGE: prod }
      id: demo
      tasks:
        - <<: *defaults
          id: a
        - <<: *defaults
          id: b
          image: alpine
          variables: *vars
    `);
    expect(config.tasks.map((task) => [task.id, task.image, task.retries.attempts, task.variables])).toStrictEqual([
      ['a', 'busybox', 3, { STAGE: 'prod' }],
      ['b', 'alpine', 3, { STAGE: 'prod' }],
    ]);
  });

  it('keeps the YAML type of anchored scalars, which aliases may use anywhere', () => {
    const config = configOf(yaml`
      x-three: &three 3
      id: demo
      parallelism: *three
      tasks:
        - { id: a, image: busybox, retries: { attempts: *three }, variables: { N: *three } }
    `);
    expect(config.parallelism).toBe(3);
    expect(config.tasks[0]!.retries.attempts).toBe(3);
    expect(config.tasks[0]!.variables).toStrictEqual({ N: '3' });
  });

  it('reads UTF-8 bytes with a byte order mark and CRLF line ends', () => {
    const bytes = new TextEncoder().encode('\uFEFFid: demo\r\ntasks:\r\n  - id: a\r\n    image: busybox\r\n');
    expect(configOf(bytes).tasks[0]!.image).toBe('busybox');
  });

  it('keeps user-chosen keys such as __proto__ as plain entries', () => {
    const config = configOf('id: demo\ntasks: [{id: a, image: b, variables: {__proto__: x, constructor: y}}]\n');
    const variables = config.tasks[0]!.variables;
    expect(Object.getPrototypeOf(variables)).toBe(Object.prototype);
    expect(Object.entries(variables)).toStrictEqual([
      ['__proto__', 'x'],
      ['constructor', 'y'],
    ]);
  });

  it('accepts a config of exactly the maximum size and task count', () => {
    const tasks = Array.from({ length: 500 }, (_, i) => `  - {id: t${i}, image: busybox${i > 0 ? `, depends_on: {t${i - 1}: success}` : ''}}`);
    const text = `id: demo\ntasks:\n${tasks.join('\n')}\n`;
    const result = parsePipelineConfig(text, { maxBytes: Buffer.byteLength(text) });
    expect(result.ok && result.config.tasks.length).toBe(500);
  });
});

interface MalformedCase {
  name: string;
  text: string | Uint8Array;
  maxBytes?: number;
  errors: string[];
}

const aliasBomb = [
  'id: demo',
  'a0: &a0 [x, x, x, x, x, x, x, x, x, x]',
  ...Array.from({ length: 8 }, (_, i) => `a${i + 1}: &a${i + 1} [${Array(10).fill(`*a${i}`).join(', ')}]`),
].join('\n');

const aliasExpansion = [
  `x-big: &big "${'y'.repeat(300_000)}"`,
  'id: demo',
  'tasks:',
  ...Array.from({ length: 40 }, (_, i) => `  - {id: t${i}, image: busybox, variables: {A: *big}}`),
].join('\n');

const malformed: MalformedCase[] = [
  // Whole-input problems.
  { name: 'empty file', text: '', errors: ['(root): the config is empty; a pipeline needs at least an id and tasks'] },
  {
    name: 'only comments',
    text: '# nothing here\n\n',
    errors: ['(root): the config is empty; a pipeline needs at least an id and tasks'],
  },
  {
    name: 'top level is a list',
    text: '- id: demo\n- tasks: []\n',
    errors: ['(root): expected a mapping of pipeline fields (id, name, tasks …), got a list'],
  },
  {
    name: 'top level is a string',
    text: 'just some text\n',
    errors: ['(root): expected a mapping of pipeline fields (id, name, tasks …), got "just some text"'],
  },
  {
    name: 'oversized input',
    text: `id: demo\n${'#'.repeat(2000)}\n`,
    maxBytes: 1024,
    errors: ['(root): the config is 2 KiB, more than the 1 KiB allowed'],
  },
  {
    name: 'binary garbage (not UTF-8)',
    text: new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13]),
    errors: ['(root): the config is not UTF-8 text; save it as a UTF-8 YAML or JSON file'],
  },
  {
    name: 'control characters in text',
    text: 'id: demo\ntasks: [{id: a, im\u0000age: b}]\n',
    errors: ['line 2, column 19: unexpected control character U+0000: a pipeline config is YAML or JSON text, not binary data'],
  },
  {
    name: 'unterminated quote',
    text: 'id: "demo\ntasks: []\n',
    errors: ['line 3, column 1: invalid YAML: Missing closing "quote'],
  },
  {
    name: 'malformed JSON (missing comma)',
    text: '{\n  "id": "demo",\n  "tasks": [\n    {"id": "a" "image": "b"}\n  ]\n}\n',
    errors: [
      'line 4, column 16: invalid YAML: Unexpected double-quoted-scalar token',
      'line 4, column 12: invalid YAML: Block collections are not allowed within flow collections',
    ],
  },
  {
    name: 'tabs as indentation',
    text: 'id: demo\ntasks:\n\t- id: a\n',
    errors: ['line 3, column 1: tabs are not allowed as indentation in YAML; indent with spaces'],
  },
  {
    name: 'duplicate key',
    text: 'id: demo\ntasks:\n  - id: a\n    image: busybox\n    image: alpine\n',
    errors: ['line 5, column 5: duplicate key "image" in this mapping'],
  },
  {
    name: 'several YAML documents',
    text: 'id: demo\ntasks: [{id: a, image: b}]\n---\nid: other\n',
    errors: ['line 3, column 1: the file holds several YAML documents (---); a pipeline config is one document'],
  },
  {
    name: 'custom YAML tags',
    text: 'id: demo\ntasks: [{id: a, image: !foo b, variables: {A: !!binary aGVsbG8=}}]\n',
    errors: ['line 2, column 24: unsupported YAML tag !foo; remove it', 'line 2, column 47: unsupported YAML tag !!binary; remove it'],
  },
  {
    name: 'complex mapping key',
    text: 'id: demo\n? [a, b]\n: c\ntasks: [{id: a, image: b}]\n',
    errors: ['line 2, column 3: mapping keys must be plain strings'],
  },
  {
    name: 'merge key with a scalar',
    text: 'id: demo\ntasks:\n  - <<: 5\n    id: a\n    image: b\n',
    errors: ['line 3, column 5: a << merge key takes a mapping, an *alias of one, or a list of those'],
  },
  {
    name: 'merge of an alias to a scalar',
    text: 'x-n: &n 5\nid: demo\ntasks:\n  - <<: *n\n    id: a\n    image: b\n',
    errors: ['(root): invalid YAML: Merge sources must be maps or map aliases'],
  },
  {
    name: 'YAML alias bomb',
    text: aliasBomb,
    errors: ['(root): YAML aliases expand too much (more than 1000 uses); repeat fewer or smaller parts through *aliases'],
  },
  {
    name: 'aliases expanding a large value many times',
    text: aliasExpansion,
    errors: ['(root): the config expands to more than 8 MiB (YAML aliases repeating large parts?); make it smaller'],
  },
  {
    name: 'alias inside its own anchor',
    text: 'id: demo\ntasks: &t [{id: a, image: b, x: *t}]\n',
    errors: ['(root): the config contains itself (a YAML alias inside its own anchor?)'],
  },
  {
    name: 'alias to an undefined anchor',
    text: 'id: demo\ntasks: [{id: a, image: *nope}]\n',
    errors: ['(root): invalid YAML: Unresolved alias (the anchor must be set before the alias): nope'],
  },
  {
    name: 'deeply nested flow collections',
    text: `id: demo\ntasks: ${'['.repeat(100)}${']'.repeat(100)}\n`,
    errors: ['line 2, column 72: the config is nested more than 64 levels deep'],
  },
  {
    name: 'deeply nested block sequences',
    text: `id: demo\nx:\n${'- '.repeat(100)}x\n`,
    errors: ['line 3, column 129: the config is nested more than 64 levels deep'],
  },

  // Pipeline fields.
  { name: 'missing id', text: 'tasks: [{id: a, image: b}]\n', errors: ['id: required'] },
  {
    name: 'invalid pipeline id',
    text: 'id: Hello World\ntasks: [{id: a, image: b}]\n',
    errors: ['id: invalid pipeline id "Hello World": use 3 to 32 characters a-z, 0-9, _ or -, starting with a letter or digit'],
  },
  {
    name: 'pipeline id too short',
    text: 'id: ab\ntasks: [{id: a, image: b}]\n',
    errors: ['id: invalid pipeline id "ab": use 3 to 32 characters a-z, 0-9, _ or -, starting with a letter or digit'],
  },
  { name: 'missing tasks', text: 'id: demo\n', errors: ['tasks: required'] },
  { name: 'no tasks', text: 'id: demo\ntasks: []\n', errors: ['tasks: must contain at least one task'] },
  {
    name: 'tasks as a mapping',
    text: 'id: demo\ntasks:\n  build: { image: b }\n',
    errors: ['tasks: expected a list of tasks, got a mapping'],
  },
  {
    name: 'too many tasks',
    text: `id: demo\ntasks:\n${Array.from({ length: 2001 }, (_, i) => `  - {id: t${i}, image: b}`).join('\n')}\n`,
    errors: ['tasks: too many tasks (2001): at most 2000 are allowed; split the pipeline into several'],
  },
  {
    name: 'parallelism of the wrong type',
    text: 'id: demo\nparallelism: two\ntasks: [{id: a, image: b}]\n',
    errors: ['parallelism: expected a non-negative integer, got "two"'],
  },
  {
    name: 'negative parallelism',
    text: 'id: demo\nparallelism: -1\ntasks: [{id: a, image: b}]\n',
    errors: ['parallelism: expected a non-negative integer, got -1'],
  },
  {
    name: 'fractional parallelism',
    text: 'id: demo\nparallelism: 1.5\ntasks: [{id: a, image: b}]\n',
    errors: ['parallelism: expected a non-negative integer, got 1.5'],
  },
  {
    name: 'parallelism too large',
    text: 'id: demo\nparallelism: 5000\ntasks: [{id: a, image: b}]\n',
    errors: ['parallelism: must be at most 1000; use 0 for no limit'],
  },
  {
    name: 'name too long',
    text: `id: demo\nname: ${'n'.repeat(129)}\ntasks: [{id: a, image: b}]\n`,
    errors: ['name: must be at most 128 characters'],
  },
  {
    name: 'unknown top-level field',
    text: 'id: demo\nsteps: []\ntasks: [{id: a, image: b}]\n',
    errors: ['steps: unknown field; known fields are id, name, description, parallelism, tasks, triggers, notifiers'],
  },
  {
    name: 'top-level __proto__ field',
    text: 'id: demo\n__proto__: { polluted: true }\ntasks: [{id: a, image: b}]\n',
    errors: ['__proto__: unknown field; known fields are id, name, description, parallelism, tasks, triggers, notifiers'],
  },

  // Task fields.
  {
    name: 'task is not a mapping',
    text: 'id: demo\ntasks: [build]\n',
    errors: ['tasks[0]: expected a mapping of task fields (id, image …), got "build"'],
  },
  {
    name: 'empty list item',
    text: 'id: demo\ntasks:\n  - {id: a, image: b}\n  -\n',
    errors: ['tasks[1]: expected a mapping of task fields (id, image …), got null'],
  },
  {
    name: 'missing image (docs/design.md example)',
    text: 'id: demo\ntasks:\n  - id: a\n',
    errors: ['tasks[0].image: required'],
  },
  {
    name: 'empty image',
    text: 'id: demo\ntasks:\n  - id: a\n    image: ""\n',
    errors: ['tasks[0].image: must not be empty'],
  },
  {
    name: 'image with spaces',
    text: 'id: demo\ntasks:\n  - id: a\n    image: busy box\n',
    errors: ['tasks[0].image: invalid image reference "busy box": it must not contain spaces'],
  },
  {
    name: 'image of the wrong type',
    text: 'id: demo\ntasks:\n  - id: a\n    image: [busybox]\n',
    errors: ['tasks[0].image: expected a string, got a list'],
  },
  {
    name: 'missing task id',
    text: 'id: demo\ntasks:\n  - image: busybox\n',
    errors: ['tasks[0].id: required'],
  },
  {
    name: 'invalid task id',
    text: 'id: demo\ntasks:\n  - id: Build Step\n    image: busybox\n',
    errors: ['tasks[0].id: invalid task id "Build Step": use 1 to 64 characters a-z, 0-9, _ or -, starting with a letter or digit'],
  },
  {
    name: 'duplicate task ids',
    text: 'id: demo\ntasks:\n  - {id: x, image: b}\n  - {id: y, image: b}\n  - {id: x, image: b}\n',
    errors: ['tasks[2].id: duplicate task id "x" (also tasks[0])'],
  },
  {
    name: 'misspelt task field',
    text: 'id: demo\ntasks:\n  - {id: a, image: b}\n  - {id: b, imag: busybox}\n',
    errors: ['tasks[1].image: required', 'tasks[1].imag: unknown field (did you mean "image"?)'],
  },
  {
    name: 'camelCase task field',
    text: 'id: demo\ntasks:\n  - {id: a, image: b}\n  - {id: b, image: b, dependsOn: {a: success}}\n',
    errors: ['tasks[1].dependsOn: unknown field (did you mean "depends_on"?)'],
  },
  {
    name: 'unknown task field without a close match',
    text: 'id: demo\ntasks:\n  - {id: a, image: b, colour: red}\n',
    errors: [
      'tasks[0].colour: unknown field; known fields are id, description, image, entrypoint, command, script, variables, depends_on, retries, timeout, registry_auth, inject_api_token, resources',
    ],
  },
  {
    name: 'script together with command and entrypoint',
    text: 'id: demo\ntasks:\n  - {id: a, image: b, script: "echo hi", command: [echo], entrypoint: [sh]}\n',
    errors: ['tasks[0].script: cannot be combined with command or entrypoint: put the whole command in the script, or drop script'],
  },
  {
    name: 'command as a string',
    text: 'id: demo\ntasks:\n  - {id: a, image: b, command: "echo hi"}\n',
    errors: ['tasks[0].command: expected a list of strings such as [sh, -c, "echo hi"], got "echo hi"; to run a shell script, use script: instead'],
  },
  {
    name: 'empty command and an entrypoint item of the wrong type',
    text: 'id: demo\ntasks:\n  - {id: a, image: b, command: [], entrypoint: [sh, {x: 1}]}\n',
    errors: [
      'tasks[0].entrypoint[1]: expected a string, got a mapping',
      "tasks[0].command: must not be empty; leave command out to use the image's default",
    ],
  },
  {
    name: 'variables as a list',
    text: 'id: demo\ntasks:\n  - {id: a, image: b, variables: [A=1]}\n',
    errors: ['tasks[0].variables: expected a mapping of variable names to strings, got a list'],
  },
  {
    name: 'bad variable names and values',
    text: 'id: demo\ntasks:\n  - id: a\n    image: b\n    variables: { "MY VAR": x, 1ST: y, NESTED: {a: 1}, EMPTY: ~ }\n',
    errors: [
      'tasks[0].variables["MY VAR"]: invalid variable name "MY VAR": use letters, digits and _, not starting with a digit',
      'tasks[0].variables.1ST: invalid variable name "1ST": use letters, digits and _, not starting with a digit',
      'tasks[0].variables.NESTED: expected a string, got a mapping',
      'tasks[0].variables.EMPTY: expected a string, got null; write "" for an empty value',
    ],
  },
  {
    name: 'bad interpolations',
    text: yaml`
      id: demo
      tasks:
        - id: a
          image: b
          variables:
            KIND: "pipline_secret{{TOKEN}}"
            OPEN: "Bearer global_secret{{TOKEN"
            KEY: "run_object{{my key}}"
            EMPTY: "pipeline_object{{}}"
            TEMPLATE: "{{ .Name }} is fine"
    `,
    errors: [
      'tasks[0].variables.KIND: unknown interpolation "pipline_secret{{…}}" (did you mean "pipeline_secret"?); use pipeline_secret, global_secret, pipeline_object or run_object, e.g. pipeline_secret{{KEY}}',
      'tasks[0].variables.OPEN: unterminated "global_secret{{": write global_secret{{KEY}}',
      'tasks[0].variables.KEY: invalid key "my key" in run_object{{…}}: keys are 1 to 256 letters, digits, _, . or - (no spaces)',
      'tasks[0].variables.EMPTY: invalid key "" in pipeline_object{{…}}: keys are 1 to 256 letters, digits, _, . or - (no spaces)',
    ],
  },
  {
    name: 'depends_on as a list',
    text: 'id: demo\ntasks:\n  - {id: a, image: b}\n  - {id: c, image: b, depends_on: [a]}\n',
    errors: ['tasks[1].depends_on: expected a mapping of task ids to success, failure or any, e.g. { build: success }, got a list'],
  },
  {
    name: 'bad depends_on value',
    text: 'id: demo\ntasks:\n  - {id: greet, image: b}\n  - {id: c, image: b, depends_on: {greet: sucess}}\n',
    errors: ['tasks[1].depends_on.greet: must be one of success, failure, any'],
  },
  {
    name: 'unknown dependency (docs/design.md example)',
    text: yaml`
      id: demo
      tasks:
        - {id: greet, image: b}
        - {id: lint, image: b}
        - {id: test, image: b}
        - {id: deploy, image: b, depends_on: {buidl: success}}
    `,
    errors: ['tasks[3].depends_on.buidl: unknown task "buidl"'],
  },
  {
    name: 'misspelt dependency',
    text: 'id: demo\ntasks:\n  - {id: build, image: b}\n  - {id: test, image: b, depends_on: {buidl: success}}\n',
    errors: ['tasks[1].depends_on.buidl: unknown task "buidl" (did you mean "build"?)'],
  },
  {
    name: 'self-dependency',
    text: 'id: demo\ntasks:\n  - {id: loop, image: b, depends_on: {loop: any}}\n',
    errors: ['tasks[0].depends_on.loop: a task cannot depend on itself'],
  },
  {
    name: 'two-task cycle (docs/design.md example)',
    text: yaml`
      id: demo
      tasks:
        - {id: greet, image: b, depends_on: {finally: success}}
        - {id: finally, image: b, depends_on: {greet: any}}
    `,
    errors: ['tasks: cycle greet -> finally -> greet'],
  },
  {
    name: 'two separate cycles, spelt in run order',
    text: yaml`
      id: demo
      tasks:
        - {id: a, image: b, depends_on: {c: success}}
        - {id: b, image: b, depends_on: {a: success}}
        - {id: c, image: b, depends_on: {b: success}}
        - {id: d, image: b, depends_on: {c: success, e: success}}
        - {id: e, image: b, depends_on: {d: failure}}
    `,
    errors: ['tasks: cycle a -> b -> c -> a', 'tasks: cycle d -> e -> d'],
  },
  {
    name: 'retries out of range and misspelt',
    text: 'id: demo\ntasks:\n  - {id: a, image: b, retries: {attempts: 0, backof: 2s}}\n  - {id: c, image: b, retries: {attempts: 11}}\n',
    errors: [
      'tasks[0].retries.attempts: expected an integer from 1 to 10 (total tries, the first included), got 0',
      'tasks[0].retries.backof: unknown field (did you mean "backoff"?)',
      'tasks[1].retries.attempts: must be at most 10',
    ],
  },
  {
    name: 'retries as a number and a bad backoff',
    text: 'id: demo\ntasks:\n  - {id: a, image: b, retries: 3}\n  - {id: c, image: b, retries: {attempts: 2, backoff: 2 s}}\n',
    errors: [
      'tasks[0].retries: expected a mapping such as { attempts: 3, backoff: 2s }, got "3"',
      'tasks[1].retries.backoff: invalid duration "2 s": use a number with a unit (h, m, s, ms), e.g. 500ms, 2s, 1m30s',
    ],
  },
  {
    name: 'bad timeouts',
    text: 'id: demo\ntasks:\n  - {id: a, image: b, timeout: 10}\n  - {id: c, image: b, timeout: 0s}\n  - {id: d, image: b, timeout: 200h}\n',
    errors: [
      'tasks[0].timeout: invalid duration "10": use a number with a unit (h, m, s, ms), e.g. 500ms, 2s, 1m30s',
      'tasks[1].timeout: must be longer than 0; leave timeout out for no limit',
      'tasks[2].timeout: must be at most 168h',
    ],
  },
  {
    name: 'bad resources',
    text: yaml`
      id: demo
      tasks:
        - {id: a, image: b, resources: {cpu: 0, memory: 256MB}}
        - {id: c, image: b, resources: {cpu: lots, memory: 1Mi, gpu: 1}}
    `,
    errors: [
      'tasks[0].resources.cpu: must be more than 0',
      'tasks[0].resources.memory: invalid memory size "256MB": use bytes, or a number with Ki, Mi, Gi, Ti (binary) or K, M, G, T (decimal), e.g. 256Mi or 1Gi',
      'tasks[1].resources.cpu: expected a number of CPUs such as 0.5 or "500m", got "lots"',
      'tasks[1].resources.memory: must be at least 6Mi (Docker refuses smaller memory limits)',
      'tasks[1].resources.gpu: unknown field; known fields are cpu, memory',
    ],
  },
  {
    name: 'bad registry_auth',
    text: yaml`
      id: demo
      tasks:
        - {id: a, image: b, registry_auth: {user: "", password: x}}
        - {id: c, image: b, registry_auth: {user: me, pass: "global_secret{{}}"}}
        - {id: d, image: b, registry_auth: "me:secret"}
    `,
    errors: [
      'tasks[0].registry_auth.user: must not be empty',
      'tasks[0].registry_auth.pass: required',
      'tasks[0].registry_auth.password: unknown field; known fields are user, pass',
      'tasks[1].registry_auth.pass: invalid key "" in global_secret{{…}}: keys are 1 to 256 letters, digits, _, . or - (no spaces)',
      'tasks[2].registry_auth: expected a mapping such as { user: me, pass: "pipeline_secret{{REGISTRY_PASS}}" }, got "me:secret"',
    ],
  },
  {
    name: 'inject_api_token not a boolean',
    text: 'id: demo\ntasks:\n  - {id: a, image: b, inject_api_token: yes}\n',
    errors: ['tasks[0].inject_api_token: expected true or false, got "yes"'],
  },

  // Triggers and notifiers.
  {
    name: 'trigger without kind or label',
    text: 'id: demo\ntasks: [{id: a, image: b}]\ntriggers:\n  - settings: {every: 5m}\n',
    errors: ['triggers[0].trigger: required', 'triggers[0].label: required'],
  },
  {
    name: 'bad trigger entries',
    text: yaml`
      id: demo
      tasks: [{id: a, image: b}]
      triggers:
        - {trigger: cron, label: nightly, settings: {expression: "0 3 * * *"}}
        - {trigger: Cron, label: nightly, settings: {1x: y, TZ: {a: b}}}
        - cron
    `,
    errors: [
      'triggers[1].trigger: invalid trigger name "Cron": use 1 to 32 characters a-z, 0-9, _ or -, starting with a letter or digit',
      'triggers[1].settings.1x: invalid setting name "1x": use letters, digits and _, not starting with a digit',
      'triggers[1].settings.TZ: expected a string, got a mapping',
      'triggers[1].label: duplicate label "nightly" (also triggers[0])',
      'triggers[2]: expected a mapping such as { trigger: cron, label: nightly }, got "cron"',
    ],
  },
  {
    name: 'bad notifier entries',
    text: yaml`
      id: demo
      tasks: [{id: a, image: b}]
      notifiers:
        - {notifier: log, label: "Console Output"}
        - {kind: webhook, label: hook}
    `,
    errors: [
      'notifiers[0].label: invalid label "Console Output": use 1 to 32 characters a-z, 0-9, _ or -, starting with a letter or digit',
      'notifiers[1].notifier: required',
      'notifiers[1].kind: unknown field; known fields are notifier, label, settings',
    ],
  },
  {
    name: 'notifiers not a list',
    text: 'id: demo\ntasks: [{id: a, image: b}]\nnotifiers: {log: console}\n',
    errors: ['notifiers: expected a list of notifiers, got a mapping'],
  },
];

describe('parsePipelineConfig: malformed configs', () => {
  it('has a large table of cases', () => {
    expect(malformed.length).toBeGreaterThanOrEqual(35);
  });

  it.each(malformed)('$name', ({ text, maxBytes, errors }) => {
    expect(errorsOf(text, maxBytes)).toStrictEqual(errors);
  });

  it('reports every error of a config at once, in document order', () => {
    const text = yaml`
      id: He
      parallelism: -1
      paralelism: 2
      tasks:
        - id: greet
          imag: busybox
          depends_on: { finally: success }
        - id: finally
          image: busybox
          depends_on: { greet: sucess, buidl: any }
          variables: { A: {b: 1}, B: "pipline_secret{{X}}" }
          script: echo
          command: [a]
          timeout: soon
        - id: greet
          image: "busy box"
      triggers:
        - { trigger: cron, label: a }
        - { trigger: cron, label: a }
    `;
    expect(errorsOf(text)).toStrictEqual([
      'id: invalid pipeline id "He": use 3 to 32 characters a-z, 0-9, _ or -, starting with a letter or digit',
      'parallelism: expected a non-negative integer, got -1',
      'tasks[0].image: required',
      'tasks[0].imag: unknown field (did you mean "image"?)',
      'tasks[1].variables.A: expected a string, got a mapping',
      'tasks[1].variables.B: unknown interpolation "pipline_secret{{…}}" (did you mean "pipeline_secret"?); use pipeline_secret, global_secret, pipeline_object or run_object, e.g. pipeline_secret{{KEY}}',
      'tasks[1].depends_on.greet: must be one of success, failure, any',
      'tasks[1].timeout: invalid duration "soon": use a number with a unit (h, m, s, ms), e.g. 500ms, 2s, 1m30s',
      'tasks[1].script: cannot be combined with command or entrypoint: put the whole command in the script, or drop script',
      'tasks[1].depends_on.buidl: unknown task "buidl"',
      'tasks[2].image: invalid image reference "busy box": it must not contain spaces',
      'tasks[2].id: duplicate task id "greet" (also tasks[0])',
      'tasks: cycle greet -> finally -> greet',
      'triggers[1].label: duplicate label "a" (also triggers[0])',
      'paralelism: unknown field (did you mean "parallelism"?)',
    ]);
  });

  it('caps the number of reported errors and says how many are left out', () => {
    const tasks = Array.from({ length: 150 }, (_, i) => `  - {id: t${i}}`).join('\n');
    const errors = errorsOf(`id: demo\ntasks:\n${tasks}\n`);
    expect(errors).toHaveLength(101);
    expect(errors[0]).toBe('tasks[0].image: required');
    expect(errors[99]).toBe('tasks[99].image: required');
    expect(errors[100]).toBe('(root): 50 more errors not shown; fix the ones above first');
  });

  it('rejects a megabyte of nesting quickly instead of parsing it', () => {
    // Without the guard the YAML parser spends seconds on this; the guard stops at depth 65.
    expect(errorsOf('['.repeat(1024 * 1024 - 1))).toStrictEqual(['line 1, column 65: the config is nested more than 64 levels deep']);
  });
});

describe('parsePipelineConfig: strings that cannot be stored', () => {
  it.each([
    ['a YAML \\0 escape', 'id: demo\ndescription: "a\\0b"\ntasks: [{ id: a, image: b }]\n', 'description: contains a NUL character'],
    ['a YAML \\x00 escape in a script', 'id: demo\ntasks: [{ id: a, image: b, script: "echo \\x00" }]\n', 'tasks[0].script: contains a NUL character'],
    ['a YAML \\0 in a key', 'id: demo\ntasks: [{ id: a, image: b, variables: { "A\\0": x } }]\n', 'tasks[0].variables["A\\u0000"]: this key contains a NUL character'],
    ['a JSON \\u0000 escape', '{"id": "demo", "tasks": [{"id": "a", "image": "b\\u0000"}]}', 'tasks[0].image: contains a NUL character'],
    ['a JSON lone surrogate', '{"id": "demo", "tasks": [{"id": "a", "image": "b", "variables": {"A": "\\ud800"}}]}', 'tasks[0].variables.A: contains a lone surrogate (\\ud800), which is not Unicode text'],
    ['a YAML lone surrogate', 'id: demo\ntasks: [{ id: a, image: b, description: "\\udfff" }]\n', 'tasks[0].description: contains a lone surrogate (\\udfff), which is not Unicode text'],
  ])('reports %s at its field', (_name, text, message) => {
    expect(errorsOf(text)).toContain(message);
  });
});

describe('parsePipelineConfig: limits before work', () => {
  it('refuses a list over its limit on the syntax tree, with that error alone', () => {
    // 10,000 tasks full of errors that cost work to report: only the count is.
    const tasks = Array.from({ length: 10_000 }, (_, i) => `  - {id: T${i}, imag: b, depends_on: {tsak-${i}: any}}`);
    expect(errorsOf(`id: demo\ntasks:\n${tasks.join('\n')}\n`)).toStrictEqual([
      'tasks: too many tasks (10000): at most 2000 are allowed; split the pipeline into several',
    ]);
  });

  it('counts a list reached through an alias after expanding it', () => {
    const tasks = Array.from({ length: 2001 }, (_, i) => `    - {id: t${i}, image: b}`);
    const text = `x-tasks: &tasks\n${tasks.map((line) => line.slice(2)).join('\n')}\nid: demo\ntasks: *tasks\n`;
    expect(errorsOf(text)).toStrictEqual(['tasks: too many tasks (2001): at most 2000 are allowed; split the pipeline into several']);
  });
});

describe('parsePipelineConfig: format json', () => {
  const json = (text: string | Uint8Array) => parsePipelineConfig(text, { format: 'json' });

  it('accepts strict JSON, from bytes with a byte order mark as well', () => {
    const text = '{"id": "demo", "tasks": [{"id": "a", "image": "b"}]}';
    expect(json(text).ok).toBe(true);
    expect(json(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(text)])).ok).toBe(true);
  });

  it.each([
    ['YAML', 'id: demo\ntasks: [{ id: a, image: b }]\n', "(root): the config is not JSON, though its format says JSON (Unexpected token 'i'); fix it, or send it as YAML"],
    ['JSON with YAML flow keys', '{id: demo}', "line 1, column 2: the config is not JSON, though its format says JSON (Expected property name or '}'); fix it, or send it as YAML"],
    ['a trailing comma', '{"id": "demo",\n "tasks": [],\n}', 'line 3, column 1: the config is not JSON, though its format says JSON (Expected double-quoted property name); fix it, or send it as YAML'],
    ['text after the document', '{"id": "demo"}\nx', 'line 2, column 1: the config is not JSON, though its format says JSON (Unexpected non-whitespace character after JSON); fix it, or send it as YAML'],
    ['nothing', '   ', '(root): the config is not JSON, though its format says JSON (Unexpected end of JSON input); fix it, or send it as YAML'],
  ])('refuses %s', (_name, text, message) => {
    const result = json(text);
    expect(!result.ok && formatConfigIssues(result.errors)).toBe(message);
    expect(jsonSyntaxIssue(Buffer.from(text))).toStrictEqual(!result.ok && result.errors[0]);
  });

  it('reads YAML as before without a format, or with format yaml', () => {
    const text = 'id: demo\ntasks: [{ id: a, image: b }]\n';
    expect(parsePipelineConfig(text).ok).toBe(true);
    expect(parsePipelineConfig(text, { format: 'yaml' }).ok).toBe(true);
    expect(parsePipelineConfig('{"id": "demo", "tasks": [{"id": "a", "image": "b"}]}', { format: 'yaml' }).ok).toBe(true);
  });
});
