import type { Secret } from '@gofer/proto/es';
import type { GoferApi } from './api.js';
import { when } from './format.js';
import { PipelineTabs } from './PipelineTabs.js';
import { Link } from './router.js';
import { useLoad } from './use-load.js';

/**
 * A pipeline's secrets or, without a pipeline, the global ones: keys and dates only. The list calls
 * return no values, and this page never asks for one (no Get*Secret), so none can reach the page.
 */
export function SecretsPage({ api, namespaceId, pipelineId }: { api: GoferApi; namespaceId?: string; pipelineId?: string }) {
  const global = !namespaceId || !pipelineId;
  const { data, error } = useLoad(
    async () => (global ? api.listGlobalSecrets({}) : api.listPipelineSecrets({ namespaceId, pipelineId })).then((r) => r.secrets),
    [api, namespaceId, pipelineId],
  );
  const nsPath = namespaceId ? `/namespaces/${encodeURIComponent(namespaceId)}` : '';
  return (
    <section>
      {global ? (
        <p className="crumbs"><Link to="/">Namespaces</Link> / global secrets</p>
      ) : (
        <p className="crumbs">
          <Link to="/">Namespaces</Link> / <Link to={nsPath}>{namespaceId}</Link> /{' '}
          <Link to={`${nsPath}/pipelines/${encodeURIComponent(pipelineId)}`}>{pipelineId}</Link> / secrets
        </p>
      )}
      <h1>{global ? 'Global secrets' : 'Pipeline secrets'}</h1>
      {!global && <PipelineTabs namespaceId={namespaceId!} pipelineId={pipelineId!} current="secrets" />}
      <p className="muted">
        {global ? 'Usable by the pipelines of the namespaces each one allows.' : 'Usable by this pipeline\u2019s tasks.'} Values are never shown; set
        them with <code>gofer secret {global ? 'global' : 'pipeline'} put</code>.
      </p>
      {error && <p role="alert" className="error">{error}</p>}
      {!error && !data && <p className="loading">Loading secrets…</p>}
      {data && data.length === 0 && <p className="muted" data-testid="no-secrets">No secrets stored {global ? 'globally' : 'for this pipeline'}.</p>}
      {data && data.length > 0 && (
        <table className="list" data-testid="secrets">
          <thead>
            <tr>
              <th scope="col">Key</th>
              {global && <th scope="col">Namespaces allowed</th>}
              <th scope="col">Created</th>
              <th scope="col">Value last changed</th>
            </tr>
          </thead>
          <tbody>
            {data.map((secret: Secret) => (
              <tr key={secret.key} data-secret={secret.key}>
                <td><code>{secret.key}</code></td>
                {global && <td>{secret.namespaces.map((ns) => <code key={ns} className="chip">{ns}</code>)}</td>}
                <td>{when(secret.created)}</td>
                <td>{when(secret.updated)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
