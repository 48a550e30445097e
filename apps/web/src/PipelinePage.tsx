import { useEffect, useRef, useState, type FormEvent } from 'react';
import { RunState, RunStatus, type Run } from '@gofer/proto/es';
import { describeError, type GoferApi } from './api.js';
import { duration, runBadge, when } from './format.js';
import { PipelineTabs, pipelinePath } from './PipelineTabs.js';
import { Link, navigate } from './router.js';
import { useLoad } from './use-load.js';
import { usePages, type Pages } from './use-pages.js';

const RUNS_PAGE = 50;
/** The server refuses a longer `started_by` (apps/gofer/src/api/runs.grpc.controller.ts). */
const STARTED_BY_MAX = 300;

/** The run filters the page offers, by their `?status=` value. */
const STATUS_FILTERS: Record<string, { label: string; states: RunState[]; statuses: RunStatus[] }> = {
  all: { label: 'All', states: [], statuses: [] },
  'in-progress': { label: 'In progress (pending or running)', states: [RunState.PENDING, RunState.RUNNING], statuses: [] },
  successful: { label: 'Successful', states: [], statuses: [RunStatus.SUCCESSFUL] },
  failed: { label: 'Failed', states: [], statuses: [RunStatus.FAILED] },
  cancelled: { label: 'Cancelled', states: [], statuses: [RunStatus.CANCELLED] },
};

/** `?status=…&started_by=…`, leaving out what does not filter. */
function filterQuery(status: string, startedBy: string): string {
  const query = new URLSearchParams();
  if (status !== 'all') query.set('status', status);
  if (startedBy) query.set('started_by', startedBy);
  const text = query.toString();
  return text ? `?${text}` : '';
}

/** One pipeline: its runs, newest first, filtered by outcome and starter (both in the URL), and "Run" with variables. */
export function PipelinePage({ api, namespaceId, pipelineId }: { api: GoferApi; namespaceId: string; pipelineId: string }) {
  const base = pipelinePath(namespaceId, pipelineId);
  const query = new URLSearchParams(location.search);
  const asked = query.get('status') ?? 'all';
  const status = Object.hasOwn(STATUS_FILTERS, asked) ? asked : 'all';
  const startedBy = (query.get('started_by') ?? '').trim();
  const filtered = status !== 'all' || startedBy !== '';

  const { data: pipeline, error: pipelineError } = useLoad(async () => (await api.getPipeline({ namespaceId, id: pipelineId })).pipeline, [api, namespaceId, pipelineId]);
  const runs = usePages<Run>(
    async (offset, limit) => {
      const { states, statuses } = STATUS_FILTERS[status]!;
      return (await api.listRuns({ namespaceId, pipelineId, limit, offset, states, statuses, startedBy })).runs;
    },
    RUNS_PAGE,
    (run) => String(run.id),
    [api, namespaceId, pipelineId, status, startedBy],
  );

  // After "Load more", focus moves to the first run loaded, not back to the top of the page.
  const rows = useRef<HTMLTableSectionElement>(null);
  const focusFrom = useRef<number>(undefined);
  useEffect(() => {
    if (runs.busy) return;
    const from = focusFrom.current;
    focusFrom.current = undefined;
    if (from !== undefined) rows.current?.querySelectorAll('tr')[from]?.querySelector('a')?.focus();
  }, [runs.busy]);

  const count = runs.items.length;
  const summary = runsSummary(runs, filtered);

  return (
    <section>
      <p className="crumbs">
        <Link to="/">Namespaces</Link> / <Link to={`/namespaces/${encodeURIComponent(namespaceId)}`}>{namespaceId}</Link> / {pipelineId}
      </p>
      <h1>{pipeline?.name || pipelineId}</h1>
      <PipelineTabs namespaceId={namespaceId} pipelineId={pipelineId} current="runs" />
      {pipelineError && <p role="alert" className="error">{pipelineError}</p>}
      <StartRunForm api={api} namespaceId={namespaceId} pipelineId={pipelineId} runPath={(id) => `${base}/runs/${id}`} />

      <h2 id="runs-title">Runs</h2>
      {/* Keyed by the URL: back/forward puts the URL's filters back in the fields. */}
      <form key={location.search} className="filters" role="search" aria-label="Filter runs" onSubmit={(event: FormEvent<HTMLFormElement>) => {
        event.preventDefault();
        const form = new FormData(event.currentTarget);
        const next = filterQuery(String(form.get('status') ?? 'all'), String(form.get('started_by') ?? '').trim());
        if (next !== filterQuery(status, startedBy) || asked !== status) navigate(`${base}${next}`);
      }}>
        <div className="field">
          <label htmlFor="run-status">Status</label>
          <select id="run-status" name="status" defaultValue={status}>
            {Object.entries(STATUS_FILTERS).map(([value, { label }]) => <option key={value} value={value}>{label}</option>)}
          </select>
        </div>
        <div className="field">
          <label htmlFor="run-started-by">Started by</label>
          <input id="run-started-by" name="started_by" defaultValue={startedBy} maxLength={STARTED_BY_MAX} spellCheck={false} autoComplete="off" aria-describedby="started-by-hint" />
        </div>
        <div className="field buttons">
          <button type="submit">Filter</button>
          {filtered && <Link to={base}>Clear filters</Link>}
        </div>
        <p id="started-by-hint" className="hint">
          Started by: one starter exactly, as shown in the list, or everyone under a prefix ending in “/”, as <code>trigger/</code> or <code>token/</code>.
        </p>
      </form>
      {asked !== status && <p role="alert" className="error">Unknown status filter “{asked}”: showing runs of any status.</p>}
      {runs.error && <p role="alert" className="error">{runs.error}</p>}
      <p role="status" className="muted" data-testid="runs-summary">{summary}</p>

      {count > 0 && (
        <table className="list" data-testid="runs" aria-labelledby="runs-title">
          <thead>
            <tr><th scope="col">Run</th><th scope="col">Status</th><th scope="col">Started</th><th scope="col">Duration</th><th scope="col">Started by</th></tr>
          </thead>
          <tbody ref={rows}>
            {runs.items.map((run) => {
              const badge = runBadge(run);
              return (
                <tr key={String(run.id)} data-run={String(run.id)}>
                  <td><Link to={`${base}/runs/${run.id}`}>#{String(run.id)}</Link></td>
                  <td><span className={`badge ${badge.tone}`} data-status={badge.label}><span aria-hidden="true">{badge.icon}</span> {badge.label}</span></td>
                  <td>{when(run.started)}</td>
                  <td>{duration(run.started, run.ended)}</td>
                  <td className="muted">
                    {run.startedBy && (
                      <Link to={`${base}${filterQuery(status, run.startedBy)}`} title={`Show only runs started by ${run.startedBy}`}>{run.startedBy}</Link>
                    )}
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
      )}
      {runs.more && (
        <button type="button" className="load-more" disabled={runs.busy} onClick={() => {
          focusFrom.current = count;
          runs.loadMore();
        }}>{runs.busy ? 'Loading…' : `Load ${RUNS_PAGE} more`}</button>
      )}
    </section>
  );
}

/** What the list holds, in words (announced politely as it changes); empty when an error says it instead. */
function runsSummary(runs: Pages<Run>, filtered: boolean): string {
  const count = runs.items.length;
  if (count === 0) {
    if (runs.busy) return 'Loading runs…';
    if (runs.error) return '';
    return filtered ? 'No runs match these filters.' : 'No runs yet.';
  }
  return `${count} ${count === 1 ? 'run' : 'runs'}${filtered ? ' matching the filters' : ''}${runs.more ? ', more to load' : ''}.`;
}

/** Variables as KEY=VALUE lines. */
function parseVariables(text: string): { variables: Record<string, string>; problem?: string } {
  const variables: Record<string, string> = {};
  for (const [index, raw] of text.split('\n').entries()) {
    const line = raw.trim();
    if (!line) continue;
    const eq = line.indexOf('=');
    if (eq <= 0) return { variables, problem: `line ${index + 1}: expected KEY=VALUE, got "${line}"` };
    variables[line.slice(0, eq).trim()] = line.slice(eq + 1);
  }
  return { variables };
}

function StartRunForm({ api, namespaceId, pipelineId, runPath }: { api: GoferApi; namespaceId: string; pipelineId: string; runPath: (id: bigint) => string }) {
  const [text, setText] = useState('');
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(false);
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    const { variables, problem } = parseVariables(text);
    if (problem) return setError(problem);
    setBusy(true);
    setError(undefined);
    try {
      const { run } = await api.startRun({ namespaceId, pipelineId, variables });
      navigate(runPath(run!.id));
    } catch (err) {
      setError(describeError(err));
    } finally {
      setBusy(false);
    }
  };
  return (
    <form className="start-run" onSubmit={submit}>
      <label htmlFor="variables">Variables for a new run (KEY=VALUE, one per line)</label>
      <textarea id="variables" rows={2} value={text} onChange={(e) => setText(e.target.value)} spellCheck={false} />
      {error && <p role="alert" className="error">{error}</p>}
      <button type="submit" disabled={busy}>{busy ? 'Starting…' : 'Run'}</button>
    </form>
  );
}
