import type { GoferApi } from './api.js';

// Placeholder: being built (issue 12).
export function EventsPage({ api, namespaceId }: { api: GoferApi; namespaceId?: string }) {
  void api;
  void namespaceId;
  return <section><h1>Events</h1></section>;
}
