import { useState, type FormEvent } from 'react';
import { describeError, type GoferApi } from './api.js';
import { duration, runBadge, when } from './format.js';
import { Link, navigate } from './router.js';
import { useLoad } from './use-load.js';

const RUNS_SHOWN = 50;

/** One pipeline: its runs, newest first, and "Run" with variables. */
export function PipelinePage({ api, namespaceId, pipelineId }: { api: GoferApi; namespaceId: string; pipelineId: string }) {
  const { data, error } = useLoad(async () => {
    const [{ pipeline }, { runs }] = await Promise.all([
      api.getPipeline({ namespaceId, id: pipelineId }),
      api.listRuns({ namespaceId, pipelineId, limit: RUNS_SHOWN }),
    ]);
    return { pipeline, runs };
  }, [api, namespaceId, pipelineId]);
  const base = `/namespaces/${encodeURIComponent(namespaceId)}/pipelines/${encodeURIComponent(pipelineId)}`;
  return (
    <section>
      <p className="crumbs">
        <Link to="/">Namespaces</Link> / <Link to={`/namespaces/${encodeURIComponent(namespaceId)}`}>{namespaceId}</Link> / {pipelineId}
      </p>
      <h1>{data?.pipeline?.name || pipelineId}</h1>
      {error && <p role="alert" className="error">{error}</p>}
      <StartRunForm api={api} namespaceId={namespaceId} pipelineId={pipelineId} runPath={(id) => `${base}/runs/${id}`} />
      {data && (
        <table className="list" data-testid="runs">
          <thead>
            <tr><th scope="col">Run</th><th scope="col">Status</th><th scope="col">Started</th><th scope="col">Duration</th><th scope="col">Started by</th></tr>
          </thead>
          <tbody>
            {data.runs.map((run) => {
              const badge = runBadge(run);
              return (
                <tr key={String(run.id)} data-run={String(run.id)}>
                  <td><Link to={`${base}/runs/${run.id}`}>#{String(run.id)}</Link></td>
                  <td><span className={`badge ${badge.tone}`} data-status={badge.label}><span aria-hidden="true">{badge.icon}</span> {badge.label}</span></td>
                  <td>{when(run.started)}</td>
                  <td>{duration(run.started, run.ended)}</td>
                  <td className="muted">{run.startedBy}</td>
                </tr>
              );
            })}
          </tbody>
        </table>
      )}
    </section>
  );
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
