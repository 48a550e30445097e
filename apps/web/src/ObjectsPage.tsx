import type { GoferApi } from './api.js';

// Placeholder: being built (issue 12).
export function ObjectsPage({ api, namespaceId, pipelineId }: { api: GoferApi; namespaceId: string; pipelineId: string }) {
  void api;
  void namespaceId;
  void pipelineId;
  return <section><h1>Objects</h1></section>;
}
