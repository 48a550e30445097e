import { useState } from 'react';
import { TokenKind, type Token } from '@gofer/proto/es';
import { describeError, type GoferApi } from './api.js';
import { when } from './format.js';
import { Link } from './router.js';
import { useLoad } from './use-load.js';

const KIND: Record<number, string> = {
  [TokenKind.MANAGEMENT]: 'management',
  [TokenKind.CLIENT]: 'client',
  [TokenKind.RUN]: 'run',
};

/**
 * Every API token (management tokens only; the server refuses anyone else): who it is for, what it
 * may use, whether it works; disable, enable, delete. Secrets are never listed: only CreateToken
 * returns one, and this page creates none.
 */
export function TokensPage({ api }: { api: GoferApi }) {
  const { data, error, reload } = useLoad(async () => {
    const [{ tokens }, { token: me }] = await Promise.all([api.listTokens({}), api.whoAmI({})]);
    return { tokens, me: me?.id };
  }, [api]);
  const [actionError, setActionError] = useState<string>();
  const [busy, setBusy] = useState<string>();
  const now = Date.now();

  const act = async (token: Token, action: 'disable' | 'enable' | 'delete') => {
    const yours = token.id === data?.me ? ' This is the token you are signed in with: the UI will stop working with it.' : '';
    if (action === 'delete' && !confirm(`Delete token ${token.id}? Whoever holds it is refused from now on.${yours}`)) return;
    if (action === 'disable' && yours && !confirm(`Disable token ${token.id}?${yours}`)) return;
    setBusy(token.id);
    setActionError(undefined);
    try {
      if (action === 'delete') await api.deleteToken({ id: token.id });
      else if (action === 'disable') await api.disableToken({ id: token.id });
      else await api.enableToken({ id: token.id });
      reload();
    } catch (err) {
      setActionError(describeError(err));
    } finally {
      setBusy(undefined);
    }
  };

  return (
    <section>
      <p className="crumbs"><Link to="/">Namespaces</Link> / tokens</p>
      <h1>Tokens</h1>
      <p className="muted">A token's secret is shown once, when it is created (<code>gofer token create</code>): never here.</p>
      {error && <p role="alert" className="error">{error}</p>}
      {actionError && <p role="alert" className="error">{actionError}</p>}
      {!error && !data && <p className="loading">Loading tokens…</p>}
      {data && data.tokens.length === 0 && <p className="muted">No tokens.</p>}
      {data && data.tokens.length > 0 && (
        <table className="list" data-testid="tokens">
          <thead>
            <tr>
              <th scope="col">Token</th><th scope="col">Kind</th><th scope="col">Namespaces</th><th scope="col">Metadata</th>
              <th scope="col">Created</th><th scope="col">Expires</th><th scope="col">State</th><th scope="col"><span className="sr">Actions</span></th>
            </tr>
          </thead>
          <tbody>
            {data.tokens.map((token) => {
              const state = tokenState(token, now);
              const metadata = Object.entries(token.metadata);
              return (
                <tr key={token.id} data-token={token.id} data-state={state.label}>
                  <td>
                    <code>{token.id}</code>
                    {token.id === data.me && <> <span className="chip">you</span></>}
                  </td>
                  <td>{KIND[token.kind] ?? 'unknown'}</td>
                  <td>
                    {token.kind === TokenKind.MANAGEMENT
                      ? <span className="muted">all</span>
                      : token.namespaces.map((ns) => <code key={ns} className="chip">{ns}</code>)}
                  </td>
                  <td>{metadata.length === 0 ? '' : metadata.map(([k, v]) => <code key={k} className="chip">{k}={v}</code>)}</td>
                  <td>{when(token.created)}</td>
                  <td>{token.expires === 0n ? <span className="muted">never</span> : when(token.expires)}</td>
                  <td><span className={`badge ${state.tone}`}><span aria-hidden="true">{state.icon}</span> {state.label}</span></td>
                  <td><div className="row-actions">
                    {token.disabled ? (
                      <button type="button" aria-label={`Enable token ${token.id}`} disabled={busy === token.id} onClick={() => act(token, 'enable')}>Enable</button>
                    ) : (
                      <button type="button" aria-label={`Disable token ${token.id}`} disabled={busy === token.id} onClick={() => act(token, 'disable')}>Disable</button>
                    )}
                    <button type="button" aria-label={`Delete token ${token.id}`} disabled={busy === token.id} onClick={() => act(token, 'delete')}>Delete</button>
                  </div></td>
                </tr>
              );
            })}
          </tbody>
        </table>
      )}
    </section>
  );
}

function tokenState(token: Token, now: number): { label: string; icon: string; tone: string } {
  if (token.disabled) return { label: 'disabled', icon: '⊘', tone: 'cancelled' };
  if (token.expires !== 0n && Number(token.expires) <= now) return { label: 'expired', icon: '⌛', tone: 'pending' };
  return { label: 'enabled', icon: '✓', tone: 'ok' };
}
