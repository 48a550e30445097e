import { useEffect, useMemo, useRef, useState, type FocusEvent, type KeyboardEvent } from 'react';
import dagre from '@dagrejs/dagre';
import { RequiredParentStatus, RunState, RunStatus, TaskRunState, type TaskRun, type TaskSummary } from '@gofer/proto/es';
import { describeError, type GoferApi } from './api.js';
import { duration, runBadge, taskBadge, when } from './format.js';
import { Link, navigate } from './router.js';
import { useLoad } from './use-load.js';

const NODE_WIDTH = 190;
const NODE_HEIGHT = 58;
/** Events come in bursts (a task ends, its dependents start): one reload per burst. */
const RELOAD_AFTER_EVENT_MS = 150;
const FOLLOW_RETRY_MS = 2000;
/** The keys that move between the DAG's tasks (`step`). */
const MOVES = new Set(['ArrowLeft', 'ArrowRight', 'ArrowUp', 'ArrowDown', 'Home', 'End']);

interface Laid {
  nodes: Array<{ id: string; x: number; y: number }>;
  edges: Array<{ from: string; to: string; need: RequiredParentStatus; points: Array<{ x: number; y: number }> }>;
  width: number;
  height: number;
}

/** The DAG laid out left to right (dagre), every task of the run's config from the start. */
function layout(tasks: TaskSummary[]): Laid {
  const graph = new dagre.graphlib.Graph();
  graph.setGraph({ rankdir: 'LR', nodesep: 18, ranksep: 60, marginx: 10, marginy: 10 });
  graph.setDefaultEdgeLabel(() => ({}));
  for (const task of tasks) graph.setNode(task.id, { width: NODE_WIDTH, height: NODE_HEIGHT });
  for (const task of tasks) for (const parent of Object.keys(task.dependsOn)) if (graph.hasNode(parent)) graph.setEdge(parent, task.id);
  dagre.layout(graph);
  const { width = 0, height = 0 } = graph.graph();
  return {
    nodes: tasks.map((task) => ({ id: task.id, x: graph.node(task.id).x, y: graph.node(task.id).y })),
    edges: tasks.flatMap((task) =>
      Object.entries(task.dependsOn).filter(([parent]) => graph.hasNode(parent)).map(([parent, need]) => ({
        from: parent, to: task.id, need, points: graph.edge(parent, task.id).points ?? [],
      })),
    ),
    width,
    height,
  };
}

/** The tasks by column (left to right) and, in each column, top to bottom: how the arrow keys read the drawing. */
function columnsOf(nodes: Laid['nodes']): Array<Array<{ id: string; y: number }>> {
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
    return { run: run!, taskRuns, tasks: (await configOf(api, namespaceId, pipelineId, run!.configVersion))?.tasks ?? [] };
  }, [api, namespaceId, pipelineId, runId]);
  const [actionError, setActionError] = useState<string>();
  const [now, setNow] = useState(Date.now());

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
            if (event?.pipelineId !== pipelineId || event.runId !== runId) continue;
            clearTimeout(timer);
            timer = setTimeout(reload, RELOAD_AFTER_EVENT_MS);
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
  useEffect(() => {
    if (!running) return;
    const tick = setInterval(() => setNow(Date.now()), 1000);
    return () => clearInterval(tick);
  }, [running]);

  const laid = useMemo(() => (data ? layout(data.tasks) : undefined), [data?.tasks]); // eslint-disable-line react-hooks/exhaustive-deps
  const byTask = useMemo(() => new Map((data?.taskRuns ?? []).map((t) => [t.taskId, t])), [data?.taskRuns]);
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

  // Page shortcuts, one letter without modifiers, never while typing: c cancels, r retries (each
  // confirmed: a stray key must not change a run), l opens the logs of the task selected in the DAG.
  const shortcut = useRef<(event: globalThis.KeyboardEvent) => void>(undefined);
  useEffect(() => {
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
  const reason = run.statusReason?.description || run.waitingReason?.description;
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
        {run.started ? `started ${when(run.started)}, ${duration(run.started, run.ended, now)}` : 'not started yet'}
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
          {laid.edges.map((edge) => {
            const style = EDGE_STYLE[edge.need] ?? EDGE_STYLE[RequiredParentStatus.SUCCESS]!;
            return (
              <path
                key={`${edge.from}->${edge.to}`}
                className={`edge need-${style.label.replace(' ', '-')}`}
                d={edge.points.map((p, i) => `${i === 0 ? 'M' : 'L'} ${p.x} ${p.y}`).join(' ')}
                strokeDasharray={style.dash}
                markerEnd="url(#arrow)"
              >
                <title>{`${edge.to} runs ${style.label} of ${edge.from}`}</title>
              </path>
            );
          })}
          {laid.nodes.map((node) => {
            const task = byTask.get(node.id);
            const tb = taskBadge(task);
            // Each task a link to its logs (Enter or a click), focusable one at a time (the arrow keys move).
            return (
              <Link
                key={node.id}
                to={taskPath(node.id)}
                className="node-link"
                data-task={node.id}
                tabIndex={node.id === current ? 0 : -1}
                aria-label={`${taskTitle(node.id, task)}: open its logs`}
              >
                <g transform={`translate(${node.x - NODE_WIDTH / 2} ${node.y - NODE_HEIGHT / 2})`} className={`node ${tb.tone}`} data-task={node.id} data-status={tb.label}>
                  <rect width={NODE_WIDTH} height={NODE_HEIGHT} rx={8} />
                  <text x={10} y={22} className="node-title">{tb.icon} {node.id}</text>
                  <text x={10} y={42} className="node-detail">
                    {tb.label}
                    {task && task.attempt > 1 ? ` · attempt ${task.attempt}` : ''}
                    {task && task.started ? ` · ${duration(task.started, task.ended, now)}` : ''}
                  </text>
                  <title>{taskTitle(node.id, task)}</title>
                </g>
              </Link>
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

      <Timeline tasks={data.tasks.map(({ id }) => ({ id, run: byTask.get(id) }))} now={now} />

      <table className="list" data-testid="tasks">
        <thead>
          <tr><th scope="col">Task</th><th scope="col">State</th><th scope="col">Attempt</th><th scope="col">Exit</th><th scope="col">Duration</th><th scope="col">Why</th><th scope="col"><span className="sr">Actions</span></th></tr>
        </thead>
        <tbody>
          {data.tasks.map(({ id }) => {
            const task = byTask.get(id);
            const tb = taskBadge(task);
            return (
              <tr key={id} data-task={id}>
                <td><Link to={taskPath(id)}>{id}</Link></td>
                <td><span className={`badge ${tb.tone}`}><span aria-hidden="true">{tb.icon}</span> {tb.label}</span></td>
                <td>{task?.attempt ?? ''}</td>
                <td>{task?.exit.case === 'exitCode' ? task.exit.value : ''}</td>
                <td>{task ? duration(task.started, task.ended, now) : ''}</td>
                <td className="muted">{task?.statusReason?.description || task?.waitingReason?.description || ''}</td>
                <td>
                  {task?.state === TaskRunState.RUNNING && (
                    <button type="button" onClick={() => act(() => api.cancelTaskRun({ namespaceId, pipelineId, runId, taskId: id }))}>Cancel task</button>
                  )}
                </td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </section>
  );
}

/**
 * When each task ran, on one time axis from the first start to the last end (or now): a Gantt chart of
 * the run's latest attempts. Tasks that never started are listed without a bar.
 */
function Timeline({ tasks, now }: { tasks: Array<{ id: string; run: TaskRun | undefined }>; now: number }) {
  const started = tasks.filter((t) => t.run && t.run.started > 0n);
  if (started.length === 0) return null;
  const from = Math.min(...started.map((t) => Number(t.run!.started)));
  const to = Math.max(...started.map((t) => (t.run!.ended > 0n ? Number(t.run!.ended) : now)), from + 1);
  const span = to - from;
  return (
    <figure className="timeline" aria-label="Timeline" data-testid="timeline">
      <figcaption className="legend">Timeline · {((to - from) / 1000).toFixed(1)} s from the first task's start</figcaption>
      <svg width="100%" height={tasks.length * 22 + 4} role="img" aria-label="When each task ran">
        {tasks.map(({ id, run }, row) => {
          const badge = taskBadge(run);
          const start = run && run.started > 0n ? Number(run.started) : undefined;
          const end = run && run.ended > 0n ? Number(run.ended) : now;
          return (
            <g key={id} transform={`translate(0 ${row * 22 + 2})`} className={`lane ${badge.tone}`} data-task={id}>
              <text x={4} y={14} className="lane-label">{id}</text>
              {start !== undefined && (
                <rect
                  x={`${20 + ((start - from) / span) * 78}%`}
                  width={`${Math.max(0.3, ((end - start) / span) * 78)}%`}
                  y={3}
                  height={14}
                  rx={3}
                >
                  <title>{`${id}: ${badge.label}, ${duration(run!.started, run!.ended, now)}`}</title>
                </rect>
              )}
            </g>
          );
        })}
      </svg>
    </figure>
  );
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
