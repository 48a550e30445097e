import { memo, useCallback, useDeferredValue, useEffect, useLayoutEffect, useMemo, useRef, useState, type FocusEvent, type KeyboardEvent } from 'react';
import { RequiredParentStatus, RunState, RunStatus, TaskRunState, type TaskRun, type TaskSummary } from '@gofer/proto/es';
import { describeError, type GoferApi } from './api.js';
import { layoutDag, LAYOUT, type Laid } from './dag-layout.js';
import { duration, runBadge, taskBadge, when, type Badge } from './format.js';
import { Link, navigate } from './router.js';
import { useLoad } from './use-load.js';

const NODE_WIDTH = LAYOUT.nodeWidth;
const NODE_HEIGHT = LAYOUT.nodeHeight;
/** Events come in bursts (a task ends, its dependents start): one reload per burst. */
const RELOAD_AFTER_EVENT_MS = 150;
const FOLLOW_RETRY_MS = 2000;
/** The keys that move between the DAG's tasks (`step`). */
const MOVES = new Set(['ArrowLeft', 'ArrowRight', 'ArrowUp', 'ArrowDown', 'Home', 'End']);
/** Config versions kept per API client: a version never changes, and its tasks and layout are the page's biggest parts. */
const CONFIGS_KEPT = 8;
/**
 * From this many tasks the timeline draws only the lanes in its scroll box and the table is folded
 * away: laid out in full, either took hundreds of ms of every update of a busy run.
 */
const BIG_FROM = 200;
/** A timeline lane's height (px), and lanes drawn beyond each end of the view. */
const LANE = 22;
const LANES_OVERSCAN = 20;

type Layout = Laid<RequiredParentStatus>;

/** The tasks by column (left to right) and, in each column, top to bottom: how the arrow keys read the drawing. */
function columnsOf(nodes: Layout['nodes']): Array<Array<{ id: string; y: number }>> {
  const byX = new Map<number, Array<{ id: string; y: number }>>();
  for (const node of nodes) {
    const x = Math.round(node.x);
    const column = byX.get(x);
    if (column) column.push(node);
    else byX.set(x, [node]);
  }
  return [...byX.entries()].sort(([a], [b]) => a - b).map(([, column]) => column.sort((a, b) => a.y - b.y));
}

/**
 * Where an arrow key goes from task `from`, as drawn: ↑ ↓ the task above or below in its column, ← →
 * the nearest task (the upper one on a tie) in the column before or after; Home and End the first and last task.
 */
function step(columns: ReturnType<typeof columnsOf>, from: string, key: string): string | undefined {
  if (key === 'Home') return columns[0]?.[0]?.id;
  if (key === 'End') return columns.at(-1)?.at(-1)?.id;
  const c = columns.findIndex((column) => column.some((node) => node.id === from));
  if (c < 0) return undefined;
  const column = columns[c]!;
  const row = column.findIndex((node) => node.id === from);
  if (key === 'ArrowUp') return column[row - 1]?.id;
  if (key === 'ArrowDown') return column[row + 1]?.id;
  const next = columns[key === 'ArrowRight' ? c + 1 : c - 1];
  const y = column[row]!.y;
  return next?.reduce((best, node) => (Math.abs(node.y - y) < Math.abs(best.y - y) ? node : best)).id;
}

/** Whether a key press is someone typing (in a field), where the page's one-letter shortcuts must not fire. */
function typing(target: EventTarget | null): boolean {
  return target instanceof HTMLElement && (target.isContentEditable || ['INPUT', 'TEXTAREA', 'SELECT'].includes(target.tagName));
}

const EDGE_STYLE: Record<number, { label: string; dash?: string }> = {
  [RequiredParentStatus.SUCCESS]: { label: 'on success' },
  [RequiredParentStatus.FAILURE]: { label: 'on failure', dash: '6 4' },
  [RequiredParentStatus.ANY]: { label: 'always', dash: '2 4' },
};

/** A run: its DAG, live; each task's state, attempt, duration and reason; cancel, retry, cancel a task. */
export function RunPage({ api, namespaceId, pipelineId, runId }: { api: GoferApi; namespaceId: string; pipelineId: string; runId: bigint }) {
  const { data, error, reload } = useLoad(async () => {
    const [{ run }, { taskRuns }] = await Promise.all([
      api.getRun({ namespaceId, pipelineId, runId }),
      api.listTaskRuns({ namespaceId, pipelineId, runId }),
    ]);
    return { run: run!, taskRuns, tasks: await tasksOf(api, namespaceId, pipelineId, run!.configVersion) };
  }, [api, namespaceId, pipelineId, runId], { coalesce: true });
  const [actionError, setActionError] = useState<string>();
  const [tableOpen, setTableOpen] = useState(false);

  // Live: the namespace's new events; this run's reload the page's data.
  useEffect(() => {
    const stop = new AbortController();
    let timer: ReturnType<typeof setTimeout> | undefined;
    (async () => {
      // A follow that drops (a replica draining, a network blip) is opened again, and the page reloaded
      // for whatever happened in between.
      while (!stop.signal.aborted) {
        try {
          for await (const { event } of api.listEvents({ namespaceId, follow: true, skipExisting: true }, { signal: stop.signal })) {
            if (event?.pipelineId !== pipelineId || event.runId !== runId || timer !== undefined) continue;
            // Not pushed back by later events: a run busy enough never to pause must still update.
            timer = setTimeout(() => {
              timer = undefined;
              reload();
            }, RELOAD_AFTER_EVENT_MS);
          }
        } catch {
          if (stop.signal.aborted) return;
        }
        await new Promise((resolve) => setTimeout(resolve, FOLLOW_RETRY_MS));
        if (!stop.signal.aborted) reload();
      }
    })();
    return () => {
      clearTimeout(timer);
      stop.abort();
    };
  }, [api, namespaceId, pipelineId, runId, reload]);

  const running = data?.run.state !== RunState.COMPLETE;
  // Laid out once per config version (tasksOf keeps its tasks, laidOut their layout); reloads only recolour.
  const laid = useMemo(() => (data ? laidOut(data.tasks) : undefined), [data?.tasks]); // eslint-disable-line react-hooks/exhaustive-deps
  const byTask = useMemo(() => new Map((data?.taskRuns ?? []).map((t) => [t.taskId, t])), [data?.taskRuns]);
  // A big run's (folded) table is rendered after the graph is drawn, in the background: React yields to the browser meanwhile.
  const tableTasks = useDeferredValue(data?.tasks);
  const columns = useMemo(() => columnsOf(laid?.nodes ?? []), [laid]);
  // The DAG is one tab stop (a roving tabindex): the task last focused there, or the first one.
  const [selected, setSelected] = useState<string>();
  const current = selected !== undefined && laid?.nodes.some((n) => n.id === selected) ? selected : columns[0]?.[0]?.id;
  const dag = useRef<SVGSVGElement>(null);

  const act = async (what: () => Promise<unknown>) => {
    setActionError(undefined);
    try {
      await what();
      reload();
    } catch (err) {
      setActionError(describeError(err));
    }
  };
  const pipelinePath = `/namespaces/${encodeURIComponent(namespaceId)}/pipelines/${encodeURIComponent(pipelineId)}`;
  const taskPath = (id: string) => `${pipelinePath}/runs/${runId}/tasks/${encodeURIComponent(id)}`;
  const canRetry = !running && data?.run.status !== RunStatus.SUCCESSFUL;
  const cancelRun = () => act(() => api.cancelRun({ namespaceId, pipelineId, runId }));
  const retryRun = () => act(async () => {
    const { run: retried } = await api.retryRun({ namespaceId, pipelineId, runId });
    navigate(`${pipelinePath}/runs/${retried!.id}`);
  });
  // A stable callback for the memoised table rows, acting with this render's api and ids.
  const cancelTask = useRef<(id: string) => void>(undefined);
  useLayoutEffect(() => {
    cancelTask.current = (taskId) => void act(() => api.cancelTaskRun({ namespaceId, pipelineId, runId, taskId }));
  });
  const onCancelTask = useCallback((taskId: string) => cancelTask.current?.(taskId), []);

  // Page shortcuts, one letter without modifiers, never while typing: c cancels, r retries (each
  // confirmed: a stray key must not change a run), l opens the logs of the task selected in the DAG.
  const shortcut = useRef<(event: globalThis.KeyboardEvent) => void>(undefined);
  // Before paint: a key pressed as soon as the page shows its data must act on that data.
  useLayoutEffect(() => {
    shortcut.current = (event) => {
      if (!data) return;
      if (event.key === 'c' && running && confirm(`Cancel run #${runId}?`)) void cancelRun();
      else if (event.key === 'r' && canRetry && confirm(`Retry run #${runId} as a new run?`)) void retryRun();
      else if (event.key === 'l' && current !== undefined) navigate(taskPath(current));
    };
  });
  useEffect(() => {
    const onKey = (event: globalThis.KeyboardEvent) => {
      if (event.defaultPrevented || event.repeat || event.altKey || event.ctrlKey || event.metaKey || typing(event.target)) return;
      shortcut.current?.(event);
    };
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, []);

  const focusTask = (id: string) => {
    setSelected(id);
    dag.current?.querySelector<SVGAElement>(`a.node-link[data-task="${CSS.escape(id)}"]`)?.focus();
  };
  const taskOf = (target: EventTarget) => (target instanceof Element ? target.closest('a.node-link')?.getAttribute('data-task') ?? undefined : undefined);
  const onDagKey = (event: KeyboardEvent<SVGSVGElement>) => {
    const from = taskOf(event.target);
    if (from === undefined || event.altKey || event.ctrlKey || event.metaKey) return;
    if (event.key === 'Enter') {
      event.preventDefault();
      navigate(taskPath(from));
    } else if (MOVES.has(event.key)) {
      event.preventDefault(); // the keys move between tasks, not the scroll position
      const to = step(columns, from, event.key);
      if (to !== undefined) focusTask(to);
    }
  };
  const onDagFocus = (event: FocusEvent<SVGSVGElement>) => {
    const task = taskOf(event.target);
    if (task !== undefined) setSelected(task);
  };

  if (error && !data) return <p role="alert" className="error">{error}</p>;
  if (!data || !laid) return <p className="loading">Loading run…</p>;
  const { run } = data;
  const badge = runBadge(run);
  const big = data.tasks.length >= BIG_FROM;
  const reason = run.statusReason?.description || run.waitingReason?.description;
  const table = (
    <table className="list" data-testid="tasks">
      <thead>
        <tr><th scope="col">Task</th><th scope="col">State</th><th scope="col">Attempt</th><th scope="col">Exit</th><th scope="col">Duration</th><th scope="col">Why</th><th scope="col"><span className="sr">Actions</span></th></tr>
      </thead>
      <tbody>
        {(big ? (tableTasks ?? []) : data.tasks).map(({ id }) => {
          const task = byTask.get(id);
          return (
            <TaskRow
              key={id}
              id={id}
              to={taskPath(id)}
              badge={taskBadge(task)}
              attempt={task?.attempt}
              exit={task?.exit.case === 'exitCode' ? task.exit.value : undefined}
              started={task?.started}
              ended={task?.ended ?? 0n}
              why={task?.statusReason?.description || task?.waitingReason?.description || ''}
              cancellable={task?.state === TaskRunState.RUNNING}
              onCancel={onCancelTask}
              folded={big && !tableOpen}
            />
          );
        })}
      </tbody>
    </table>
  );
  return (
    <section>
      <p className="crumbs">
        <Link to="/">Namespaces</Link> / <Link to={`/namespaces/${encodeURIComponent(namespaceId)}`}>{namespaceId}</Link> /{' '}
        <Link to={pipelinePath}>{pipelineId}</Link> / run {String(run.id)}
      </p>
      <h1>
        Run #{String(run.id)}{' '}
        <span className={`badge ${badge.tone}`} data-testid="run-status" data-status={badge.label}>
          <span aria-hidden="true">{badge.icon}</span> {badge.label}
        </span>
      </h1>
      <p className="muted">
        {run.started ? <>started {when(run.started)}, <Elapsed started={run.started} ended={run.ended} /></> : 'not started yet'}
        {run.startedBy && ` · by ${run.startedBy}`}
        {run.retryOf ? ` · retry of run ${run.retryOf}` : ''}
        {Object.keys(run.variables).length > 0 && ` · ${Object.entries(run.variables).map(([k, v]) => `${k}=${v}`).join(' ')}`}
      </p>
      {reason && <p className="reason" data-testid="run-reason">{reason}</p>}
      <div className="actions">
        {running && <button type="button" onClick={cancelRun} aria-keyshortcuts="c" title="Cancel run (c)">Cancel run</button>}
        {canRetry && <button type="button" onClick={retryRun} aria-keyshortcuts="r" title="Retry run (r)">Retry run</button>}
        <Link to={`${pipelinePath}/objects?run=${run.id}`}>Objects of this run</Link>
      </div>
      {actionError && <p role="alert" className="error">{actionError}</p>}

      <figure className="dag" aria-label="Task graph">
        <svg
          width={laid.width}
          height={laid.height}
          role="group"
          aria-label={`Graph of ${data.tasks.length} tasks`}
          aria-describedby="dag-keys"
          data-testid="dag"
          ref={dag}
          onKeyDown={onDagKey}
          onFocus={onDagFocus}
        >
          <defs>
            <marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse">
              <path d="M 0 0 L 10 5 L 0 10 z" className="arrow" />
            </marker>
          </defs>
          <Edges edges={laid.edges} />
          {laid.nodes.map((node) => {
            const task = byTask.get(node.id);
            return (
              <DagNode
                key={node.id}
                id={node.id}
                x={node.x}
                y={node.y}
                to={taskPath(node.id)}
                focusable={node.id === current}
                badge={taskBadge(task)}
                attempt={task?.attempt ?? 0}
                started={task?.started ?? 0n}
                ended={task?.ended ?? 0n}
                title={taskTitle(node.id, task)}
              />
            );
          })}
        </svg>
        <figcaption className="legend">
          Edges: <svg width="28" height="8" aria-hidden="true"><line x1="0" y1="4" x2="28" y2="4" className="edge" /></svg> on success{' '}
          <svg width="28" height="8" aria-hidden="true"><line x1="0" y1="4" x2="28" y2="4" className="edge" strokeDasharray="6 4" /></svg> on failure{' '}
          <svg width="28" height="8" aria-hidden="true"><line x1="0" y1="4" x2="28" y2="4" className="edge" strokeDasharray="2 4" /></svg> always
          <span className="dag-keys" id="dag-keys" data-testid="dag-keys">
            Keyboard: Tab into the graph, then ← → to the nearest task in the column before or after, ↑ ↓ within a column,
            Home / End to the first / last, Enter to open a task's logs. Anywhere on this page: l opens the selected task's
            logs, c cancels a running run, r retries a run that did not succeed (both ask first).
          </span>
        </figcaption>
      </figure>

      <Timeline tasks={data.tasks} byTask={byTask} windowed={big} />

      {big ? (
        <details className="run-tasks" data-testid="tasks-folded" onToggle={(event) => setTableOpen(event.currentTarget.open)}>
          <summary>{tableSummary(data.tasks, byTask)}</summary>
          {table}
        </details>
      ) : table}
    </section>
  );
}

/** The edges, drawn once per layout: their paths never change with the tasks' states. */
const Edges = memo(function Edges({ edges }: { edges: Layout['edges'] }) {
  return edges.map((edge) => {
    const style = EDGE_STYLE[edge.need] ?? EDGE_STYLE[RequiredParentStatus.SUCCESS]!;
    return (
      <path
        key={`${edge.from}->${edge.to}`}
        className={`edge need-${style.label.replace(' ', '-')}`}
        d={edge.path}
        strokeDasharray={style.dash}
        markerEnd="url(#arrow)"
      >
        <title>{`${edge.to} runs ${style.label} of ${edge.from}`}</title>
      </path>
    );
  });
});

/**
 * A task in the DAG, a link to its logs (Enter or a click), focusable one at a time (the arrow keys
 * move); re-rendered only when what it shows changes (props are compared one by one, a badge by value).
 */
const DagNode = memo(
  function DagNode({ id, x, y, to, focusable, badge, attempt, started, ended, title }: {
    id: string; x: number; y: number; to: string; focusable: boolean; badge: Badge; attempt: number; started: bigint; ended: bigint; title: string;
  }) {
    return (
      <Link to={to} className="node-link" data-task={id} tabIndex={focusable ? 0 : -1} aria-label={`${title}: open its logs`}>
        <g transform={`translate(${x - NODE_WIDTH / 2} ${y - NODE_HEIGHT / 2})`} className={`node ${badge.tone}`} data-task={id} data-status={badge.label}>
          <rect width={NODE_WIDTH} height={NODE_HEIGHT} rx={8} />
          <text x={10} y={22} className="node-title">{badge.icon} {id}</text>
          <text x={10} y={42} className="node-detail">
            {badge.label}
            {attempt > 1 ? ` · attempt ${attempt}` : ''}
            {started > 0n && <> · <Elapsed started={started} ended={ended} /></>}
          </text>
          <title>{title}</title>
        </g>
      </Link>
    );
  },
  sameProps,
);

/**
 * A task's row in the table; `attempt` and `started` are undefined while it has no task run. Rows of a
 * folded table are not updated (nobody sees them): opening it renders them from the latest data.
 */
const TaskRow = memo(
  function TaskRow({ id, to, badge, attempt, exit, started, ended, why, cancellable, onCancel }: {
    id: string; to: string; badge: Badge; attempt: number | undefined; exit: number | undefined; started: bigint | undefined; ended: bigint;
    why: string; cancellable: boolean; onCancel: (id: string) => void; folded: boolean;
  }) {
    return (
      <tr data-task={id}>
        <td><Link to={to}>{id}</Link></td>
        <td><span className={`badge ${badge.tone}`}><span aria-hidden="true">{badge.icon}</span> {badge.label}</span></td>
        <td>{attempt ?? ''}</td>
        <td>{exit ?? ''}</td>
        <td>{started !== undefined && <Elapsed started={started} ended={ended} />}</td>
        <td className="muted">{why}</td>
        <td>{cancellable && <button type="button" onClick={() => onCancel(id)}>Cancel task</button>}</td>
      </tr>
    );
  },
  (a, b) => (a.folded && b.folded) || sameProps(a, b),
);

/** Shallow equality, with badges (fresh objects from taskBadge) compared by their label. */
function sameProps(a: Record<string, unknown>, b: Record<string, unknown>): boolean {
  for (const key in a) {
    const [x, y] = [a[key], b[key]];
    if (x === y || (key === 'badge' && (x as Badge).label === (y as Badge).label)) continue;
    return false;
  }
  return true;
}

/** Shared by every ticking duration on the page: one timer, running only while something is running. */
const ticking = new Set<() => void>();
let ticker: ReturnType<typeof setInterval> | undefined;

/** The time now, re-read every second while `live` (and only then: an idle page does not re-render). */
function useNow(live: boolean): number {
  const [now, setNow] = useState(Date.now);
  useEffect(() => {
    if (!live) return;
    const tick = () => setNow(Date.now());
    tick();
    ticking.add(tick);
    ticker ??= setInterval(() => ticking.forEach((f) => f()), 1000);
    return () => {
      ticking.delete(tick);
      if (ticking.size === 0) {
        clearInterval(ticker);
        ticker = undefined;
      }
    };
  }, [live]);
  return now;
}

/** From `started` to `ended` or, while it runs, to now (the only part of the page that ticks). */
function Elapsed({ started, ended }: { started: bigint; ended: bigint }) {
  const now = useNow(started > 0n && ended === 0n);
  return duration(started, ended, now);
}

/**
 * When each task ran, on one time axis from the first start to the last end (or now): a Gantt chart of
 * the run's latest attempts. Tasks that never started are listed without a bar. While tasks run, the
 * axis ends on a round number ahead of now, so only their bars move each second, not every lane.
 * `windowed`: in a scroll box, drawing only the lanes in and near its view.
 */
function Timeline({ tasks, byTask, windowed }: { tasks: TaskSummary[]; byTask: Map<string, TaskRun>; windowed: boolean }) {
  let from = Infinity;
  let last = -Infinity;
  let runningNow = false;
  for (const { id } of tasks) {
    const run = byTask.get(id);
    if (!run || run.started === 0n) continue;
    from = Math.min(from, Number(run.started));
    if (run.ended > 0n) last = Math.max(last, Number(run.ended));
    else runningNow = true;
  }
  const now = useNow(runningNow);
  const [scrolled, setScrolled] = useState(0);
  if (from === Infinity) return null;
  const to = Math.max(runningNow ? now : last, last, from + 1);
  const span = runningNow ? roundUp(to - from) : to - from;
  const first = windowed ? Math.max(0, Math.floor(scrolled / LANE) - LANES_OVERSCAN) : 0;
  const end = windowed ? Math.min(tasks.length, Math.ceil((scrolled + window.innerHeight) / LANE) + LANES_OVERSCAN) : tasks.length;
  return (
    <figure className="timeline" aria-label="Timeline" data-testid="timeline">
      <figcaption className="legend">Timeline · {((to - from) / 1000).toFixed(1)} s from the first task's start</figcaption>
      <div
        className={windowed ? 'timeline-box' : undefined}
        tabIndex={windowed ? 0 : undefined}
        aria-label={windowed ? `Timeline of ${tasks.length} tasks, scrollable` : undefined}
        onScroll={windowed ? (event) => setScrolled(event.currentTarget.scrollTop) : undefined}
      >
        <svg width="100%" height={tasks.length * LANE + 4} role="img" aria-label="When each task ran">
          {tasks.slice(first, end).map(({ id }, i) => {
            const run = byTask.get(id);
            const live = run !== undefined && run.started > 0n && run.ended === 0n;
            return (
              <Lane
                key={id}
                id={id}
                row={first + i}
                badge={taskBadge(run)}
                started={run?.started ?? 0n}
                ended={run?.ended ?? 0n}
                now={live ? now : 0}
                from={from}
                span={span}
              />
            );
          })}
        </svg>
      </div>
    </figure>
  );
}

/** The folded table's title: how many tasks, and how many in each state. */
function tableSummary(tasks: TaskSummary[], byTask: Map<string, TaskRun>): string {
  const counts = new Map(['running', 'waiting', 'failed', 'cancelled', 'skipped', 'successful', 'unknown'].map((label) => [label, 0]));
  for (const { id } of tasks) {
    const { label } = taskBadge(byTask.get(id));
    counts.set(label, (counts.get(label) ?? 0) + 1);
  }
  return `All ${tasks.length} tasks: ${[...counts].filter(([, n]) => n > 0).map(([label, n]) => `${n} ${label}`).join(', ')}`;
}

/** A time span rounded up to 1, 2 or 5 × 10ⁿ ms: the axis changes (and every bar moves) a few times a decade. */
function roundUp(ms: number): number {
  const power = 10 ** Math.floor(Math.log10(ms));
  return [1, 2, 5, 10].map((m) => m * power).find((s) => s >= ms)!;
}

const Lane = memo(
  function Lane({ id, row, badge, started, ended, now, from, span }: {
    id: string; row: number; badge: Badge; started: bigint; ended: bigint; now: number; from: number; span: number;
  }) {
    const start = started > 0n ? Number(started) : undefined;
    const end = ended > 0n ? Number(ended) : now;
    return (
      <g transform={`translate(0 ${row * LANE + 2})`} className={`lane ${badge.tone}`} data-task={id}>
        <text x={4} y={14} className="lane-label">{id}</text>
        {start !== undefined && (
          <rect
            x={`${20 + ((start - from) / span) * 78}%`}
            width={`${Math.max(0.3, ((end - start) / span) * 78)}%`}
            y={3}
            height={14}
            rx={3}
          >
            <title>{`${id}: ${badge.label}, ${duration(started, ended, now)}`}</title>
          </rect>
        )}
      </g>
    );
  },
  sameProps,
);

/** The tasks of a config version, fetched once per API client (versions never change); a few kept. */
const configs = new WeakMap<GoferApi, Map<string, Promise<TaskSummary[]>>>();

function tasksOf(api: GoferApi, namespaceId: string, pipelineId: string, version: bigint): Promise<TaskSummary[]> {
  let kept = configs.get(api);
  if (!kept) configs.set(api, (kept = new Map()));
  const key = JSON.stringify([namespaceId, pipelineId, String(version)]);
  const known = kept.get(key);
  kept.delete(key); // (re)inserted last: the least recently used is the first
  const tasks = known ?? configOf(api, namespaceId, pipelineId, version).then((config) => {
    if (!config) kept.delete(key); // not (yet) visible: asked again next time
    return config?.tasks ?? [];
  });
  kept.set(key, tasks);
  tasks.catch(() => kept.get(key) === tasks && kept.delete(key));
  while (kept.size > CONFIGS_KEPT) kept.delete(kept.keys().next().value!);
  return tasks;
}

/** A config's layout, computed once per tasks array (tasksOf hands out the same one for a version). */
const layouts = new WeakMap<TaskSummary[], Layout>();

function laidOut(tasks: TaskSummary[]): Layout {
  let laid = layouts.get(tasks);
  if (!laid) layouts.set(tasks, (laid = layoutDag(tasks)));
  return laid;
}

/** The config version a run was started with, paging through the pipeline's versions. */
async function configOf(api: GoferApi, namespaceId: string, pipelineId: string, version: bigint) {
  for (let offset = 0; ; ) {
    const { configs } = await api.listPipelineConfigs({ namespaceId, pipelineId, offset });
    const found = configs.find((c) => c.version === version);
    if (found || configs.length === 0) return found;
    offset += configs.length;
  }
}

function taskTitle(id: string, task: TaskRun | undefined): string {
  const badge = taskBadge(task);
  const why = task?.statusReason?.description || task?.waitingReason?.description;
  return `${id}: ${badge.label}${why ? ` — ${why}` : ''}`;
}
