import { useCallback, useEffect, useMemo, useState, type FormEvent } from 'react';
import { Code, ConnectError } from '@connectrpc/connect';
import { PipelineState, TokenKind, type Namespace, type Pipeline, type Run, type Token } from '@gofer/proto/es';
import { apiClient, describeError, storedToken, storeToken, type GoferApi } from './api.js';
import { runBadge } from './format.js';
import { ConfigPage } from './ConfigPage.js';
import { EventsPage } from './EventsPage.js';
import { LogsPage } from './LogsPage.js';
import { ObjectsPage } from './ObjectsPage.js';
import { PipelinePage } from './PipelinePage.js';
import { Link, navigate, usePath } from './router.js';
import { RunPage } from './RunPage.js';
import { SecretsPage } from './SecretsPage.js';
import { TokensPage } from './TokensPage.js';
import { useLoad } from './use-load.js';

/** How many recent runs the pipelines page shows per pipeline. */
const RECENT_RUNS = 5;

export function App() {
  const [token, setToken] = useState(storedToken);
  const [me, setMe] = useState<Token>();
  // One client per token: pages reload their data when it changes, not on every render.
  const api = useMemo(() => (token ? apiClient(token) : undefined), [token]);
  const path = usePath();

  const signOut = useCallback(() => {
    storeToken(undefined);
    setToken(undefined);
    setMe(undefined);
    navigate('/');
  }, []);

  useEffect(() => {
    if (!token) return;
    apiClient(token).whoAmI({}).then(
      (answer) => setMe(answer.token),
      // A token deleted, disabled or expired since: sign out. Gofer out of reach: keep the session.
      (error: unknown) => ConnectError.from(error).code === Code.Unauthenticated && signOut(),
    );
  }, [token, signOut]);

  if (!api) {
    return (
      <SignIn
        onSignedIn={(secret, identity) => {
          storeToken(secret);
          setToken(secret);
          setMe(identity);
        }}
      />
    );
  }
  return (
    <div className="shell">
      <header className="bar">
        <Link to="/" className="brand">Gofer</Link>
        <Sections path={path} management={me?.kind === TokenKind.MANAGEMENT} />
        <nav aria-label="Signed in">
          <span className="who" data-testid="who">
            {me ? `${me.kind === TokenKind.MANAGEMENT ? 'management' : 'client'} token ${me.id}` : ''}
          </span>
          <button type="button" onClick={signOut}>Sign out</button>
        </nav>
      </header>
      <main>
        <Page path={path} api={api} />
      </main>
    </div>
  );
}

/** The UI's sections; global secrets and tokens only for a management token (the server refuses anyone else). */
function Sections({ path, management }: { path: string; management: boolean }) {
  const section = /^\/(namespaces\/[^/]+\/)?events\/?$/.test(path) ? '/events'
    : /^\/secrets\/?$/.test(path) ? '/secrets'
    : /^\/tokens\/?$/.test(path) ? '/tokens'
    : '/';
  const links: Array<[string, string]> = [['/', 'Namespaces'], ['/events', 'Events']];
  if (management) links.push(['/secrets', 'Secrets (global)'], ['/tokens', 'Tokens']);
  return (
    <nav aria-label="Sections" className="sections">
      <ul>
        {links.map(([to, label]) => (
          // "page" on the section's own page, "true" on a page inside it (e.g. a pipeline under Namespaces).
          <li key={to}>
            <Link to={to} aria-current={section !== to ? undefined : path === to || path === `${to}/` ? 'page' : 'true'}>{label}</Link>
          </li>
        ))}
      </ul>
    </nav>
  );
}

function Page({ path, api }: { path: string; api: GoferApi }) {
  const part = (i: number, m: RegExpExecArray) => decodeURIComponent(m[i]!);
  let m: RegExpExecArray | null;
  if ((m = /^\/namespaces\/([^/]+)\/pipelines\/([^/]+)\/runs\/(\d+)\/tasks\/([^/]+)\/?$/.exec(path))) {
    const attempt = Number(new URLSearchParams(location.search).get('attempt')) || undefined;
    return <LogsPage api={api} namespaceId={part(1, m)} pipelineId={part(2, m)} runId={BigInt(m[3]!)} taskId={part(4, m)} attempt={attempt} />;
  }
  if ((m = /^\/namespaces\/([^/]+)\/pipelines\/([^/]+)\/runs\/(\d+)\/?$/.exec(path))) {
    return <RunPage api={api} namespaceId={part(1, m)} pipelineId={part(2, m)} runId={BigInt(m[3]!)} />;
  }
  if ((m = /^\/namespaces\/([^/]+)\/pipelines\/([^/]+)\/config\/?$/.exec(path))) return <ConfigPage api={api} namespaceId={part(1, m)} pipelineId={part(2, m)} />;
  if ((m = /^\/namespaces\/([^/]+)\/pipelines\/([^/]+)\/objects\/?$/.exec(path))) return <ObjectsPage api={api} namespaceId={part(1, m)} pipelineId={part(2, m)} />;
  if ((m = /^\/namespaces\/([^/]+)\/pipelines\/([^/]+)\/secrets\/?$/.exec(path))) return <SecretsPage api={api} namespaceId={part(1, m)} pipelineId={part(2, m)} />;
  if ((m = /^\/namespaces\/([^/]+)\/pipelines\/([^/]+)\/?$/.exec(path))) return <PipelinePage api={api} namespaceId={part(1, m)} pipelineId={part(2, m)} />;
  if ((m = /^\/namespaces\/([^/]+)\/events\/?$/.exec(path))) return <EventsPage api={api} namespaceId={part(1, m)} />;
  if ((m = /^\/namespaces\/([^/]+)\/?$/.exec(path))) return <Pipelines api={api} namespaceId={part(1, m)} />;
  if (path === '/') return <Namespaces api={api} />;
  if (path === '/events' || path === '/events/') return <EventsPage api={api} />;
  if (path === '/secrets' || path === '/secrets/') return <SecretsPage api={api} />;
  if (path === '/tokens' || path === '/tokens/') return <TokensPage api={api} />;
  return <p role="alert" className="error">No page at {path}. <Link to="/">Go to the namespaces</Link>.</p>;
}

function SignIn({ onSignedIn }: { onSignedIn: (token: string, identity: Token | undefined) => void }) {
  const [value, setValue] = useState('');
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(false);
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    const secret = value.trim();
    if (!secret) return setError('Paste an API token (the CLI prints one: gofer token create).');
    setBusy(true);
    setError(undefined);
    try {
      const answer = await apiClient(secret).whoAmI({});
      setValue('');
      onSignedIn(secret, answer.token);
    } catch (err) {
      setError(describeError(err));
    } finally {
      setBusy(false);
    }
  };
  return (
    <main className="sign-in">
      <form onSubmit={submit} aria-labelledby="sign-in-title">
        <h1 id="sign-in-title">Sign in to Gofer</h1>
        <label htmlFor="token">API token</label>
        <input id="token" type="password" autoComplete="off" spellCheck={false} value={value} onChange={(e) => setValue(e.target.value)} autoFocus />
        <p className="hint">Kept in this tab only, and sent only to this server.</p>
        {error && <p role="alert" className="error">{error}</p>}
        <button type="submit" disabled={busy}>{busy ? 'Checking…' : 'Sign in'}</button>
      </form>
    </main>
  );
}

function Namespaces({ api }: { api: GoferApi }) {
  const { data, error } = useLoad(() => api.listNamespaces({}), [api]);
  if (error) return <p role="alert" className="error">{error}</p>;
  if (!data) return <p className="loading">Loading namespaces…</p>;
  return (
    <section>
      <h1>Namespaces</h1>
      <ul className="cards" data-testid="namespaces">
        {data.namespaces.map((namespace: Namespace) => (
          <li key={namespace.id}>
            <Link to={`/namespaces/${encodeURIComponent(namespace.id)}`}>
              <strong>{namespace.name || namespace.id}</strong>
              <span className="muted">{namespace.id}</span>
            </Link>
          </li>
        ))}
      </ul>
    </section>
  );
}

function Pipelines({ api, namespaceId }: { api: GoferApi; namespaceId: string }) {
  const { data, error } = useLoad(async () => {
    const { pipelines } = await api.listPipelines({ namespaceId });
    const runs = await Promise.all(pipelines.map((p) => api.listRuns({ namespaceId, pipelineId: p.id, limit: RECENT_RUNS })));
    return pipelines.map((pipeline, i) => ({ pipeline, runs: runs[i]!.runs }));
  }, [api, namespaceId]);
  return (
    <section>
      <p className="crumbs"><Link to="/">Namespaces</Link> / {namespaceId}</p>
      <h1>Pipelines</h1>
      <p className="page-links"><Link to={`/namespaces/${encodeURIComponent(namespaceId)}/events`}>Events in {namespaceId}</Link></p>
      {error && <p role="alert" className="error">{error}</p>}
      {!error && !data && <p className="loading">Loading pipelines…</p>}
      {data && data.length === 0 && <p className="muted">No pipelines in this namespace yet. Apply one with <code>gofer pipeline apply</code>.</p>}
      {data && data.length > 0 && (
        <table className="list" data-testid="pipelines">
          <thead>
            <tr><th scope="col">Pipeline</th><th scope="col">State</th><th scope="col">Recent runs</th></tr>
          </thead>
          <tbody>
            {data.map(({ pipeline, runs }) => (
              <tr key={pipeline.id} data-pipeline={pipeline.id}>
                <td>
                  <Link to={`/namespaces/${encodeURIComponent(namespaceId)}/pipelines/${encodeURIComponent(pipeline.id)}`}>
                    <strong>{pipeline.name || pipeline.id}</strong>
                  </Link>{' '}
                  <span className="muted">{pipeline.id}</span>
                </td>
                <td>{pipelineState(pipeline)}</td>
                <td><RunDots runs={runs} path={(run) => `/namespaces/${encodeURIComponent(namespaceId)}/pipelines/${encodeURIComponent(pipeline.id)}/runs/${run.id}`} /></td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}

function RunDots({ runs, path }: { runs: Run[]; path: (run: Run) => string }) {
  if (runs.length === 0) return <span className="muted">no runs</span>;
  return (
    <ol className="dots" aria-label="Recent runs, newest first">
      {runs.map((run) => {
        const badge = runBadge(run);
        return (
          <li key={String(run.id)}>
            <Link to={path(run)} className={`dot ${badge.tone}`} title={`run ${run.id}: ${badge.label}`} data-status={badge.label}>
              <span aria-hidden="true">{badge.icon}</span>
              <span className="sr">run {String(run.id)} {badge.label}</span>
            </Link>
          </li>
        );
      })}
    </ol>
  );
}

function pipelineState(pipeline: Pipeline): string {
  return pipeline.state === PipelineState.DISABLED ? 'disabled' : 'enabled';
}
