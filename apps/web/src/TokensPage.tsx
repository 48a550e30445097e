import type { GoferApi } from './api.js';

// Placeholder: being built (issue 12).
export function TokensPage({ api }: { api: GoferApi }) {
  void api;
  return <section><h1>Tokens</h1></section>;
}
