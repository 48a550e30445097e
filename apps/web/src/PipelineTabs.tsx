import { Link } from './router.js';

export type PipelineTab = 'runs' | 'config' | 'objects' | 'secrets';

const TABS: Array<{ tab: PipelineTab; label: string; suffix: string }> = [
  { tab: 'runs', label: 'Runs', suffix: '' },
  { tab: 'config', label: 'Config', suffix: '/config' },
  { tab: 'objects', label: 'Objects', suffix: '/objects' },
  { tab: 'secrets', label: 'Secrets', suffix: '/secrets' },
];

/** The path of a pipeline's page under /ui. */
export function pipelinePath(namespaceId: string, pipelineId: string): string {
  return `/namespaces/${encodeURIComponent(namespaceId)}/pipelines/${encodeURIComponent(pipelineId)}`;
}

/** A pipeline's pages as links, the one shown marked for assistive technology as well as by its look. */
export function PipelineTabs({ namespaceId, pipelineId, current }: { namespaceId: string; pipelineId: string; current: PipelineTab }) {
  const base = pipelinePath(namespaceId, pipelineId);
  return (
    <nav aria-label="Pipeline" className="tabs">
      <ul>
        {TABS.map(({ tab, label, suffix }) => (
          <li key={tab}>
            <Link to={`${base}${suffix}`} aria-current={tab === current ? 'page' : undefined}>{label}</Link>
          </li>
        ))}
      </ul>
    </nav>
  );
}
