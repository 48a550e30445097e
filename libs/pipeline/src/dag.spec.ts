import { describe, expect, it } from 'vitest';
import { type DagDecision, evaluateDag, findDependencyCycles, runOutcome, type TaskNode, topologicalOrder } from './dag.js';
import type { DependsOn, PipelineConfig, TaskConfig } from './pipeline-config.js';

// Shorthands for task states: p = processing, w = waiting, r = running, then the complete ones.
const p: TaskNode = { state: 'processing' };
const w: TaskNode = { state: 'waiting' };
const r: TaskNode = { state: 'running' };
const ok: TaskNode = { state: 'complete', status: 'successful' };
const failed: TaskNode = { state: 'complete', status: 'failed' };
const cancelled: TaskNode = { state: 'complete', status: 'cancelled' };
const skipped: TaskNode = { state: 'complete', status: 'skipped' };

interface DagCase {
  name: string;
  dependsOn: Record<string, Record<string, DependsOn>>;
  nodes: Record<string, TaskNode>;
  expected: DagDecision;
}

const dagCases: DagCase[] = [
  {
    name: 'tasks without parents are ready',
    dependsOn: {},
    nodes: { a: p, b: p },
    expected: { ready: ['a', 'b'], skipped: [] },
  },
  {
    name: 'only tasks still processing are decided',
    dependsOn: {},
    nodes: { a: w, b: r, c: ok, d: failed, e: skipped, f: p },
    expected: { ready: ['f'], skipped: [] },
  },
  {
    name: 'success: met by a successful parent',
    dependsOn: { b: { a: 'success' } },
    nodes: { a: ok, b: p },
    expected: { ready: ['b'], skipped: [] },
  },
  {
    name: 'success: a failed parent skips the child',
    dependsOn: { b: { a: 'success' } },
    nodes: { a: failed, b: p },
    expected: { ready: [], skipped: ['b'] },
  },
  {
    name: 'success: a skipped parent skips the child',
    dependsOn: { b: { a: 'success' } },
    nodes: { a: skipped, b: p },
    expected: { ready: [], skipped: ['b'] },
  },
  {
    name: 'failure: met by a failed parent',
    dependsOn: { b: { a: 'failure' } },
    nodes: { a: failed, b: p },
    expected: { ready: ['b'], skipped: [] },
  },
  {
    name: 'failure: a successful parent skips the child',
    dependsOn: { b: { a: 'failure' } },
    nodes: { a: ok, b: p },
    expected: { ready: [], skipped: ['b'] },
  },
  {
    name: 'failure: a skipped parent skips the child',
    dependsOn: { b: { a: 'failure' } },
    nodes: { a: skipped, b: p },
    expected: { ready: [], skipped: ['b'] },
  },
  {
    name: 'any: met by successful, failed and skipped parents',
    dependsOn: { d: { a: 'any', b: 'any', c: 'any' } },
    nodes: { a: ok, b: failed, c: skipped, d: p },
    expected: { ready: ['d'], skipped: [] },
  },
  {
    name: 'any: a cancelled parent does not satisfy it',
    dependsOn: { b: { a: 'any' } },
    nodes: { a: cancelled, b: p },
    expected: { ready: [], skipped: ['b'] },
  },
  {
    name: 'a cancelled parent skips success, failure and any children alike',
    dependsOn: { b: { a: 'success' }, c: { a: 'failure' }, d: { a: 'any' } },
    nodes: { a: cancelled, b: p, c: p, d: p },
    expected: { ready: [], skipped: ['b', 'c', 'd'] },
  },
  {
    name: 'parents not complete yet: the child waits, whatever the requirement',
    dependsOn: { d: { a: 'success' }, e: { b: 'failure' }, f: { c: 'any' } },
    nodes: { a: p, b: w, c: r, d: p, e: p, f: p },
    expected: { ready: ['a'], skipped: [] },
  },
  {
    name: 'one parent met and one still running: the child waits',
    dependsOn: { c: { a: 'success', b: 'success' } },
    nodes: { a: ok, b: r, c: p },
    expected: { ready: [], skipped: [] },
  },
  {
    name: 'one requirement already broken: skipped without waiting for the other parent',
    dependsOn: { c: { a: 'success', b: 'success' } },
    nodes: { a: failed, b: r, c: p },
    expected: { ready: [], skipped: ['c'] },
  },
  {
    name: 'a parent missing from the run is never met',
    dependsOn: { b: { ghost: 'any' } },
    nodes: { b: p },
    expected: { ready: [], skipped: ['b'] },
  },
  {
    name: 'skip cascade over several levels, down to an any that then runs',
    // a failed → b (needs a success) skipped → c (needs b success) skipped → d (needs c any) ready;
    // e needs c to fail, which a skipped c never will.
    dependsOn: { b: { a: 'success' }, c: { b: 'success' }, d: { c: 'any' }, e: { c: 'failure' } },
    nodes: { a: failed, b: p, c: p, d: p, e: p },
    expected: { ready: ['d'], skipped: ['b', 'c', 'e'] },
  },
  {
    name: 'cascade stops at a child still waiting on a running parent',
    dependsOn: { b: { a: 'success' }, c: { b: 'any', x: 'success' } },
    nodes: { a: failed, x: r, b: p, c: p },
    expected: { ready: [], skipped: ['b'] },
  },
  {
    name: 'cascade through a child whose other parent is still running',
    dependsOn: { b: { a: 'success' }, c: { b: 'success', x: 'success' }, d: { c: 'success' } },
    nodes: { a: failed, x: r, b: p, c: p, d: p },
    expected: { ready: [], skipped: ['b', 'c', 'd'] },
  },
  {
    name: 'cascade reaching a child listed before its parents',
    dependsOn: { c: { b: 'success' }, b: { a: 'success' } },
    nodes: { c: p, b: p, a: failed },
    expected: { ready: [], skipped: ['c', 'b'] },
  },
  {
    name: 'diamond, all successful: the join is ready',
    dependsOn: { b: { a: 'success' }, c: { a: 'success' }, d: { b: 'success', c: 'success' } },
    nodes: { a: ok, b: ok, c: ok, d: p },
    expected: { ready: ['d'], skipped: [] },
  },
  {
    name: 'diamond, root failed: both branches and the join are skipped once',
    dependsOn: { b: { a: 'success' }, c: { a: 'success' }, d: { b: 'success', c: 'success' } },
    nodes: { a: failed, b: p, c: p, d: p },
    expected: { ready: [], skipped: ['b', 'c', 'd'] },
  },
  {
    name: 'diamond, root failed: failure branch runs, join on any waits for it',
    dependsOn: { b: { a: 'success' }, c: { a: 'failure' }, d: { b: 'any', c: 'any' } },
    nodes: { a: failed, b: p, c: p, d: p },
    expected: { ready: ['c'], skipped: ['b'] },
  },
  {
    name: 'diamond, root failed and both branches skipped: join on any is ready',
    dependsOn: { b: { a: 'success' }, c: { a: 'success' }, d: { b: 'any', c: 'any' } },
    nodes: { a: failed, b: p, c: p, d: p },
    expected: { ready: ['d'], skipped: ['b', 'c'] },
  },
  {
    name: 'the docs/design.md example after greet succeeded and flaky failed',
    dependsOn: {
      on_success: { greet: 'success' },
      on_failure: { flaky: 'failure' },
      finally: { on_success: 'any', on_failure: 'any' },
    },
    nodes: { greet: ok, flaky: failed, on_success: p, on_failure: p, finally: p },
    expected: { ready: ['on_success', 'on_failure'], skipped: [] },
  },
  {
    name: 'the docs/design.md example after greet and flaky both succeeded',
    dependsOn: {
      on_success: { greet: 'success' },
      on_failure: { flaky: 'failure' },
      finally: { on_success: 'any', on_failure: 'any' },
    },
    nodes: { greet: ok, flaky: ok, on_success: ok, on_failure: p, finally: p },
    expected: { ready: ['finally'], skipped: ['on_failure'] },
  },
  {
    name: 'a task named constructor is found among the nodes, not on Object.prototype',
    dependsOn: Object.fromEntries([
      ['constructor', { build: 'success' }],
      ['after', { constructor: 'any' }],
    ]) as Record<string, Record<string, DependsOn>>,
    nodes: { build: ok, constructor: p, after: p },
    expected: { ready: ['constructor'], skipped: [] },
  },
  {
    name: 'a missing parent named constructor is never met',
    dependsOn: { b: Object.fromEntries([['constructor', 'success']]) as Record<string, DependsOn> },
    nodes: { b: p },
    expected: { ready: [], skipped: ['b'] },
  },
];

describe('evaluateDag', () => {
  it.each(dagCases)('$name', ({ dependsOn, nodes, expected }) => {
    expect(evaluateDag(dependsOn, nodes)).toStrictEqual(expected);
  });

  it('does not modify its arguments', () => {
    const dependsOn = { b: { a: 'success' as const } };
    const nodes = { a: { ...failed }, b: { ...p } };
    evaluateDag(dependsOn, nodes);
    expect(nodes).toStrictEqual({ a: failed, b: p });
  });

  it('skips a long chain in one call', () => {
    const ids = Array.from({ length: 500 }, (_, i) => `t${i}`);
    const dependsOn = Object.fromEntries(ids.slice(1).map((id, i) => [id, { [ids[i]!]: 'success' as const }]));
    const nodes = Object.fromEntries(ids.map((id, i) => [id, i === 0 ? failed : p]));
    expect(evaluateDag(dependsOn, nodes)).toStrictEqual({ ready: [], skipped: ids.slice(1) });
  });
});

describe('runOutcome', () => {
  const cases: { name: string; nodes: Record<string, TaskNode>; expected: ReturnType<typeof runOutcome> }[] = [
    { name: 'a task still processing', nodes: { a: ok, b: p }, expected: undefined },
    { name: 'a task still waiting', nodes: { a: failed, b: w }, expected: undefined },
    { name: 'a task still running', nodes: { a: r }, expected: undefined },
    { name: 'all successful', nodes: { a: ok, b: ok }, expected: 'successful' },
    { name: 'successful and skipped', nodes: { a: ok, b: skipped }, expected: 'successful' },
    { name: 'all skipped', nodes: { a: skipped }, expected: 'successful' },
    { name: 'one failed', nodes: { a: ok, b: failed, c: skipped }, expected: 'failed' },
    { name: 'failed beats cancelled', nodes: { a: cancelled, b: failed }, expected: 'failed' },
    { name: 'one cancelled', nodes: { a: ok, b: cancelled, c: skipped }, expected: 'cancelled' },
    { name: 'complete without a status', nodes: { a: ok, b: { state: 'complete' } }, expected: 'failed' },
    { name: 'no tasks', nodes: {}, expected: 'successful' },
  ];
  it.each(cases)('$name', ({ nodes, expected }) => {
    expect(runOutcome(nodes)).toBe(expected);
  });
});

function pipeline(tasks: [string, Record<string, DependsOn>][]): PipelineConfig {
  const task = ([id, dependsOn]: [string, Record<string, DependsOn>]): TaskConfig => ({
    id,
    description: '',
    image: 'busybox',
    variables: {},
    dependsOn,
    retries: { attempts: 1, backoffMs: 0 },
    injectApiToken: false,
  });
  return { id: 'demo', name: 'demo', description: '', parallelism: 0, tasks: tasks.map(task), triggers: [], notifiers: [] };
}

describe('topologicalOrder', () => {
  const cases: { name: string; tasks: [string, Record<string, DependsOn>][]; expected: string[] }[] = [
    { name: 'independent tasks keep config order', tasks: [['c', {}], ['a', {}], ['b', {}]], expected: ['c', 'a', 'b'] },
    {
      name: 'parents listed after their children move first',
      tasks: [['deploy', { test: 'success' }], ['test', { build: 'success' }], ['build', {}]],
      expected: ['build', 'test', 'deploy'],
    },
    {
      name: 'diamond',
      tasks: [['d', { b: 'any', c: 'any' }], ['c', { a: 'success' }], ['b', { a: 'failure' }], ['a', {}]],
      expected: ['a', 'c', 'b', 'd'],
    },
    {
      name: 'a freed task goes before later-listed free tasks',
      tasks: [['a', {}], ['b', { a: 'success' }], ['c', {}]],
      expected: ['a', 'b', 'c'],
    },
    { name: 'dependencies on unknown tasks are ignored', tasks: [['a', { ghost: 'any' }]], expected: ['a'] },
  ];
  it.each(cases)('$name', ({ tasks, expected }) => {
    expect(topologicalOrder(pipeline(tasks))).toStrictEqual(expected);
  });

  it('refuses a cycle', () => {
    const config = pipeline([['a', { b: 'success' }], ['b', { a: 'success' }], ['c', {}]]);
    expect(() => topologicalOrder(config)).toThrow('tasks a, b depend on each other in a cycle; validate the config first');
  });
});

describe('findDependencyCycles', () => {
  const cases: { name: string; parents: Record<string, string[]>; expected: string[][] }[] = [
    { name: 'no cycle', parents: { a: [], b: ['a'], c: ['a', 'b'] }, expected: [] },
    { name: 'self-dependency is not reported here', parents: { a: ['a'] }, expected: [] },
    { name: 'two tasks', parents: { a: ['b'], b: ['a'] }, expected: [['a', 'b', 'a']] },
    { name: 'three tasks, in run order', parents: { a: ['c'], b: ['a'], c: ['b'] }, expected: [['a', 'b', 'c', 'a']] },
    {
      name: 'the shortest way round through the first task',
      parents: { a: ['d', 'c'], b: ['a'], c: ['b'], d: ['a'] },
      expected: [['a', 'd', 'a']],
    },
    {
      name: 'two groups, in config order',
      parents: { x: [], p: ['q'], q: ['p'], a: ['b'], b: ['a'] },
      expected: [
        ['p', 'q', 'p'],
        ['a', 'b', 'a'],
      ],
    },
    { name: 'unknown parents are ignored', parents: { a: ['ghost'] }, expected: [] },
  ];
  it.each(cases)('$name', ({ parents, expected }) => {
    expect(findDependencyCycles(Object.keys(parents), (id) => parents[id] ?? [])).toStrictEqual(expected);
  });

  it('handles a chain too long for a recursive search', () => {
    const ids = Array.from({ length: 50_000 }, (_, i) => `t${i}`);
    const cycle = findDependencyCycles(ids, (id) => {
      const i = Number(id.slice(1));
      return [ids[i === 0 ? ids.length - 1 : i - 1]!];
    });
    expect(cycle).toHaveLength(1);
    expect(cycle[0]).toHaveLength(50_001);
    expect(cycle[0]!.slice(0, 3)).toStrictEqual(['t0', 't1', 't2']);
  });
});
