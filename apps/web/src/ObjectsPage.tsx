import { useState, type FormEvent } from 'react';
import type { ObjectInfo } from '@gofer/proto/es';
import { describeError, type GoferApi } from './api.js';
import { byteSize, when } from './format.js';
import { PipelineTabs } from './PipelineTabs.js';
import { Link, navigate } from './router.js';
import { useLoad } from './use-load.js';

/** How many hex digits of a SHA-256 the table shows (the whole one is in its title and the row's data). */
const SHORT_SHA = 12;

/** A pipeline's objects or, with `?run=N`, one run's: what is stored, never the content. */
export function ObjectsPage({ api, namespaceId, pipelineId }: { api: GoferApi; namespaceId: string; pipelineId: string }) {
  const runParam = new URLSearchParams(location.search).get('run');
  const runId = runParam && /^\d+$/.test(runParam) ? BigInt(runParam) : undefined;
  const { data, error, reload } = useLoad(
    async () => (runId === undefined ? api.listPipelineObjects({ namespaceId, pipelineId }) : api.listRunObjects({ namespaceId, pipelineId, runId })).then((r) => r.objects),
    [api, namespaceId, pipelineId, runId],
  );
  const [actionError, setActionError] = useState<string>();
  const [busyKey, setBusyKey] = useState<string>();
  const nsPath = `/namespaces/${encodeURIComponent(namespaceId)}`;
  const pipelinePath = `${nsPath}/pipelines/${encodeURIComponent(pipelineId)}`;
  const scope = runId === undefined ? 'this pipeline' : `run ${runId}`;

  const remove = async (key: string) => {
    if (!confirm(`Delete the object "${key}" of ${scope}? It cannot be restored.`)) return;
    setBusyKey(key);
    setActionError(undefined);
    try {
      if (runId === undefined) await api.deletePipelineObject({ namespaceId, pipelineId, key });
      else await api.deleteRunObject({ namespaceId, pipelineId, runId, key });
      reload();
    } catch (err) {
      setActionError(describeError(err));
    } finally {
      setBusyKey(undefined);
    }
  };

  return (
    <section>
      <p className="crumbs">
        <Link to="/">Namespaces</Link> / <Link to={nsPath}>{namespaceId}</Link> / <Link to={pipelinePath}>{pipelineId}</Link> /{' '}
        {runId === undefined ? 'objects' : <><Link to={`${pipelinePath}/runs/${runId}`}>run {String(runId)}</Link> / objects</>}
      </p>
      <h1>{runId === undefined ? 'Pipeline objects' : `Objects of run #${runId}`}</h1>
      <PipelineTabs namespaceId={namespaceId} pipelineId={pipelineId} current="objects" />
      <RunPicker runId={runId} path={`${pipelinePath}/objects`} />
      {runId !== undefined && <p><Link to={`${pipelinePath}/objects`}>Show the pipeline's objects instead</Link></p>}
      {error && <p role="alert" className="error">{error}</p>}
      {actionError && <p role="alert" className="error">{actionError}</p>}
      {!error && !data && <p className="loading">Loading objects…</p>}
      {data && data.length === 0 && <p className="muted" data-testid="no-objects">No objects stored for {scope}.</p>}
      {data && data.length > 0 && (
        <table className="list" data-testid="objects">
          <thead>
            <tr><th scope="col">Key</th><th scope="col">Size</th><th scope="col">SHA-256</th><th scope="col">Stored</th><th scope="col"><span className="sr">Actions</span></th></tr>
          </thead>
          <tbody>
            {data.map((object: ObjectInfo) => (
              <tr key={object.key} data-object={object.key} data-sha256={object.sha256}>
                <td><code>{object.key}</code></td>
                <td className="nowrap" data-bytes={String(object.size)}>{byteSize(object.size)}</td>
                <td><code title={object.sha256}>{object.sha256.slice(0, SHORT_SHA)}</code></td>
                <td>{when(object.created)}</td>
                <td>
                  <button type="button" aria-label={`Delete ${object.key}`} disabled={busyKey === object.key} onClick={() => remove(object.key)}>
                    {busyKey === object.key ? 'Deleting…' : 'Delete'}
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}

/** Goes to one run's objects by its number. */
function RunPicker({ runId, path }: { runId: bigint | undefined; path: string }) {
  const [value, setValue] = useState(runId === undefined ? '' : String(runId));
  const submit = (event: FormEvent) => {
    event.preventDefault();
    const run = value.trim();
    if (/^\d+$/.test(run) && run !== '0') navigate(`${path}?run=${run}`);
  };
  return (
    <form className="inline-form" onSubmit={submit}>
      <label htmlFor="run-objects">Run number</label>
      <input id="run-objects" type="number" min={1} step={1} value={value} onChange={(e) => setValue(e.target.value)} />
      <button type="submit">Show the run's objects</button>
    </form>
  );
}
