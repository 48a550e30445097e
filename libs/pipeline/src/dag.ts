// The DAG rules of a run, as pure functions over task states. The engine loads task-run rows, calls
// these, and writes the results in the same transaction (docs/design.md §3, §4).
import type { DependsOn, PipelineConfig } from './pipeline-config.js';

/** Where a task run is in its life (docs/design.md §3). */
export type TaskRunState = 'processing' | 'waiting' | 'running' | 'complete';

/** How a task run ended; set once its state is `complete`. */
export type TaskRunStatus = 'successful' | 'failed' | 'cancelled' | 'skipped';

/** What the DAG rules need to know about one task run. */
export interface TaskNode {
  state: TaskRunState;
  status?: TaskRunStatus;
}

/** The decisions of {@link evaluateDag}: task ids, in the key order of the `nodes` given. */
export interface DagDecision {
  /** Tasks to start now: every parent is complete and every requirement met. */
  ready: string[];
  /** Tasks to complete as `skipped` (reason `failed_precondition`): a requirement can no longer be met. */
  skipped: string[];
}

type Requirement = 'met' | 'pending' | 'unmet';

function requirement(needs: DependsOn, parent: TaskNode | undefined): Requirement {
  // A parent missing from the run can never complete: waiting for it would stall the run forever.
  if (parent === undefined) return 'unmet';
  if (parent.state !== 'complete') return 'pending';
  switch (needs) {
    case 'success':
      return parent.status === 'successful' ? 'met' : 'unmet';
    case 'failure':
      return parent.status === 'failed' ? 'met' : 'unmet';
    case 'any':
      return parent.status === 'successful' || parent.status === 'failed' || parent.status === 'skipped'
        ? 'met'
        : 'unmet';
  }
}

/**
 * Decides which tasks still in state `processing` can start and which must be skipped.
 *
 * A task is ready when every parent is complete and every requirement is met (`success`: parent
 * successful; `failure`: parent failed; `any`: parent successful, failed or skipped, not cancelled).
 * It is skipped as soon as one requirement can no longer be met, even while other parents still run.
 * Skips cascade within the call: a task skipped here counts as complete and `skipped` for its
 * children, so a child needing `any` of it may become ready, and one needing `success` is skipped.
 * A parent id absent from `nodes` never completes, so it counts as unmet.
 *
 * @param dependsOn child task id → parent task id → requirement (from `TaskConfig.dependsOn`).
 * @param nodes every task run of the run by task id; results follow this key order, so pass tasks
 *   in config order.
 */
export function evaluateDag(
  dependsOn: Readonly<Record<string, Readonly<Record<string, DependsOn>>>>,
  nodes: Readonly<Record<string, TaskNode>>,
): DagDecision {
  const order = Object.keys(nodes);
  const effective = new Map<string, TaskNode>(order.map((id) => [id, nodes[id]!]));
  const parentsOf = (id: string): [string, DependsOn][] =>
    Object.hasOwn(dependsOn, id) ? Object.entries(dependsOn[id]!) : [];

  const childrenOf = new Map<string, string[]>();
  for (const child of order) {
    for (const [parent] of parentsOf(child)) {
      const children = childrenOf.get(parent);
      if (children === undefined) childrenOf.set(parent, [child]);
      else children.push(child);
    }
  }

  const ready = new Set<string>();
  const skipped = new Set<string>();
  // Only a new skip can change a decision, and only its children's: re-examine just those.
  const pending = order.filter((id) => effective.get(id)!.state === 'processing');
  while (pending.length > 0) {
    const id = pending.shift()!;
    if (ready.has(id) || skipped.has(id)) continue;
    let verdict: Requirement = 'met';
    for (const [parent, needs] of parentsOf(id)) {
      const outcome = requirement(needs, effective.get(parent));
      if (outcome === 'unmet') {
        verdict = 'unmet';
        break;
      }
      if (outcome === 'pending') verdict = 'pending';
    }
    if (verdict === 'met') ready.add(id);
    else if (verdict === 'unmet') {
      skipped.add(id);
      effective.set(id, { state: 'complete', status: 'skipped' });
      for (const child of childrenOf.get(id) ?? []) {
        if (effective.get(child)?.state === 'processing' && !skipped.has(child)) pending.push(child);
      }
    }
  }
  return { ready: order.filter((id) => ready.has(id)), skipped: order.filter((id) => skipped.has(id)) };
}

/**
 * The status of a run from its task runs (docs/design.md §3): `undefined` while any task is not complete;
 * otherwise `failed` if any task failed, else `cancelled` if any was cancelled, else `successful`
 * (skipped tasks are fine). A complete task without a status counts as failed, so such an
 * inconsistency surfaces instead of passing as success.
 */
export function runOutcome(
  nodes: Readonly<Record<string, TaskNode>>,
): 'successful' | 'failed' | 'cancelled' | undefined {
  const all = Object.values(nodes);
  if (all.some((node) => node.state !== 'complete')) return undefined;
  if (all.some((node) => node.status === 'failed' || node.status === undefined)) return 'failed';
  if (all.some((node) => node.status === 'cancelled')) return 'cancelled';
  return 'successful';
}

/**
 * Task ids so that every task comes after all its parents; among tasks free to go next, the one
 * listed first in the config goes first. Dependencies on unknown tasks are ignored.
 *
 * @throws Error when the tasks form a cycle (a config that passed validation never does).
 */
export function topologicalOrder(config: Pick<PipelineConfig, 'tasks'>): string[] {
  const ids = config.tasks.map((task) => task.id);
  const known = new Set(ids);
  const waitingOn = new Map<string, number>();
  const childrenOf = new Map<string, string[]>();
  for (const task of config.tasks) {
    const parents = Object.keys(task.dependsOn).filter((parent) => known.has(parent));
    waitingOn.set(task.id, parents.length);
    for (const parent of parents) childrenOf.set(parent, [...(childrenOf.get(parent) ?? []), task.id]);
  }
  const position = new Map(ids.map((id, index) => [id, index]));
  const free = ids.filter((id) => waitingOn.get(id) === 0);
  const order: string[] = [];
  while (free.length > 0) {
    const id = free.shift()!;
    order.push(id);
    for (const child of childrenOf.get(id) ?? []) {
      const left = waitingOn.get(child)! - 1;
      waitingOn.set(child, left);
      if (left === 0) {
        const at = free.findIndex((other) => position.get(other)! > position.get(child)!);
        free.splice(at === -1 ? free.length : at, 0, child);
      }
    }
  }
  if (order.length !== ids.length) {
    const stuck = ids.filter((id) => !order.includes(id));
    throw new Error(`tasks ${stuck.join(', ')} depend on each other in a cycle; validate the config first`);
  }
  return order;
}

/**
 * Every dependency cycle, one per group of tasks that depend on each other (strongly connected
 * component), each spelled in run order (`a -> b` means b depends on a), starting and ending at the
 * group's task listed first in `ids`: `['greet', 'finally', 'greet']`. Self-dependencies are not
 * cycles here (they are reported on their own). Groups come in the order of their first task.
 *
 * @param ids task ids in config order.
 * @param parentsOf the parent ids of a task, limited to ids in `ids`.
 */
export function findDependencyCycles(ids: readonly string[], parentsOf: (id: string) => readonly string[]): string[][] {
  const position = new Map(ids.map((id, index) => [id, index]));
  const childrenOf = new Map<string, string[]>(ids.map((id) => [id, []]));
  for (const child of ids) {
    for (const parent of parentsOf(child)) {
      if (parent !== child && position.has(parent)) childrenOf.get(parent)!.push(child);
    }
  }
  const components = stronglyConnectedComponents(ids, (id) => childrenOf.get(id)!);
  const cycles: string[][] = [];
  for (const component of components) {
    if (component.length < 2) continue;
    const members = new Set(component);
    const start = component.reduce((a, b) => (position.get(a)! <= position.get(b)! ? a : b));
    cycles.push(shortestCycleThrough(start, (id) => childrenOf.get(id)!.filter((child) => members.has(child))));
  }
  return cycles.sort((a, b) => position.get(a[0]!)! - position.get(b[0]!)!);
}

/** Breadth-first from `start` back to itself; `start` must lie on a cycle. */
function shortestCycleThrough(start: string, next: (id: string) => readonly string[]): string[] {
  const cameFrom = new Map<string, string>();
  const queue = [start];
  // An index rather than shift(), which may copy the queue each time.
  for (let head = 0; head < queue.length; head++) {
    const id = queue[head]!;
    for (const child of next(id)) {
      if (child === start) {
        const path = [start];
        for (let at = id; at !== start; at = cameFrom.get(at)!) path.push(at);
        return [start, ...path.slice(1).reverse(), start];
      }
      if (!cameFrom.has(child)) {
        cameFrom.set(child, id);
        queue.push(child);
      }
    }
  }
  throw new Error(`task ${start} is not on a cycle`);
}

/** Tarjan's algorithm without recursion, so a long chain of tasks cannot overflow the stack. */
function stronglyConnectedComponents(ids: readonly string[], next: (id: string) => readonly string[]): string[][] {
  const index = new Map<string, number>();
  const lowLink = new Map<string, number>();
  const onStack = new Set<string>();
  const stack: string[] = [];
  const components: string[][] = [];
  let counter = 0;
  for (const root of ids) {
    if (index.has(root)) continue;
    const work: { id: string; child: number }[] = [{ id: root, child: 0 }];
    index.set(root, counter);
    lowLink.set(root, counter++);
    stack.push(root);
    onStack.add(root);
    while (work.length > 0) {
      const frame = work[work.length - 1]!;
      const children = next(frame.id);
      if (frame.child < children.length) {
        const child = children[frame.child++]!;
        if (!index.has(child)) {
          index.set(child, counter);
          lowLink.set(child, counter++);
          stack.push(child);
          onStack.add(child);
          work.push({ id: child, child: 0 });
        } else if (onStack.has(child)) {
          lowLink.set(frame.id, Math.min(lowLink.get(frame.id)!, index.get(child)!));
        }
        continue;
      }
      work.pop();
      const parent = work[work.length - 1];
      if (parent !== undefined) lowLink.set(parent.id, Math.min(lowLink.get(parent.id)!, lowLink.get(frame.id)!));
      if (lowLink.get(frame.id) === index.get(frame.id)) {
        const component: string[] = [];
        let member: string;
        do {
          member = stack.pop()!;
          onStack.delete(member);
          component.push(member);
        } while (member !== frame.id);
        components.push(component);
      }
    }
  }
  return components;
}
