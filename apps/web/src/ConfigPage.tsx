import { useRef, useState, type FormEvent } from 'react';
import { diffLines } from 'diff';
import { ConfigFormat, type PipelineConfig } from '@gofer/proto/es';
import type { GoferApi } from './api.js';
import { when } from './format.js';
import { PipelineTabs, pipelinePath } from './PipelineTabs.js';
import { Link, navigate } from './router.js';
import { useLoad } from './use-load.js';
import { usePages } from './use-pages.js';

/** Versions listed per page: each carries its whole config, so not the API's 1000 at once. */
const VERSIONS_PAGE = 50;
/** Tasks named per version in the list; the rest are counted. */
const TASKS_NAMED = 8;
/** Unchanged lines kept around each change in a diff; longer unchanged stretches fold. */
const CONTEXT_LINES = 3;
/** A diff of two very different large configs gives up rather than freeze the tab. */
const DIFF_TIMEOUT_MS = 3000;

const utf8 = new TextDecoder();

/** A pipeline's config versions: one shown with line numbers (`?version=`), or what changed since another (`&compare=`). */
export function ConfigPage({ api, namespaceId, pipelineId }: { api: GoferApi; namespaceId: string; pipelineId: string }) {
  const base = pipelinePath(namespaceId, pipelineId);
  const query = new URLSearchParams(location.search);
  const problems: string[] = [];
  const asked = parseVersion('version', query.get('version'), problems);
  const compare = parseVersion('compare', query.get('compare'), problems);

  const { data: pipeline, error: pipelineError } = useLoad(async () => (await api.getPipeline({ namespaceId, id: pipelineId })).pipeline, [api, namespaceId, pipelineId]);
  const versions = usePages<PipelineConfig>(
    async (offset, limit) => (await api.listPipelineConfigs({ namespaceId, pipelineId, limit, offset })).configs,
    VERSIONS_PAGE,
    (config) => String(config.version),
    [api, namespaceId, pipelineId],
  );
  const listed = (version: bigint | undefined) => versions.items.find((config) => config.version === version);
  const version = asked ?? versions.items[0]?.version;

  // A version not on the pages loaded (a deep link to an old one) is fetched on its own.
  const ready = pipeline !== undefined && !(versions.busy && versions.items.length === 0);
  const missing = [version, compare].filter((v): v is bigint => ready && v !== undefined && !listed(v));
  const fetched = useLoad(
    async () => Promise.all(missing.map((v) => fetchVersion(api, namespaceId, pipelineId, v, pipeline?.latestConfigVersion ?? 0n))),
    [api, namespaceId, pipelineId, missing.join(','), pipeline?.latestConfigVersion],
  );
  const find = (v: bigint | undefined) => (v === undefined ? undefined : listed(v) ?? fetched.data?.find((config) => config.version === v));
  const shown = find(version);
  const old = find(compare);

  const show = (next: { version?: bigint; compare?: bigint }) => {
    const params = new URLSearchParams();
    if (next.version !== undefined) params.set('version', String(next.version));
    if (next.compare !== undefined) params.set('compare', String(next.compare));
    const text = params.toString();
    navigate(`${base}/config${text ? `?${text}` : ''}`);
  };
  const choices = [...versions.items.map((config) => config.version)];
  for (const v of [version, compare]) if (v !== undefined && !choices.includes(v)) choices.push(v);
  choices.sort((a, b) => (a > b ? -1 : a < b ? 1 : 0));

  const error = pipelineError ?? versions.error ?? fetched.error;
  return (
    <section>
      <p className="crumbs">
        <Link to="/">Namespaces</Link> / <Link to={`/namespaces/${encodeURIComponent(namespaceId)}`}>{namespaceId}</Link> /{' '}
        <Link to={base}>{pipelineId}</Link> / config
      </p>
      <h1>{pipeline?.name || pipelineId}</h1>
      <PipelineTabs namespaceId={namespaceId} pipelineId={pipelineId} current="config" />
      {problems.map((problem) => <p key={problem} role="alert" className="error">{problem}</p>)}
      {error && <p role="alert" className="error">{error}</p>}
      {!versions.busy && versions.items.length === 0 && !versions.error && <p className="muted">This pipeline has no config yet.</p>}

      {version !== undefined && (
        // Keyed by the URL: back/forward puts the URL's versions back in the fields.
        <form key={location.search} className="filters" aria-label="Choose versions" onSubmit={(event: FormEvent<HTMLFormElement>) => {
          event.preventDefault();
          const form = new FormData(event.currentTarget);
          const picked = (name: string) => (form.get(name) ? BigInt(String(form.get(name))) : undefined);
          show({ version: picked('version'), compare: picked('compare') });
        }}>
          <div className="field">
            <label htmlFor="config-version">Version</label>
            <select id="config-version" name="version" defaultValue={String(version)}>
              {choices.map((v) => <option key={String(v)} value={String(v)}>{versionLabel(v, versions.items[0]?.version)}</option>)}
            </select>
          </div>
          <div className="field">
            <label htmlFor="config-compare">Compare with (older side)</label>
            <select id="config-compare" name="compare" defaultValue={compare === undefined ? '' : String(compare)}>
              <option value="">Nothing: show the config</option>
              {choices.map((v) => <option key={String(v)} value={String(v)}>{versionLabel(v, versions.items[0]?.version)}</option>)}
            </select>
          </div>
          <div className="field buttons">
            <button type="submit">Show</button>
            {compare !== undefined && <Link to={`${base}/config?version=${version}`}>Stop comparing</Link>}
          </div>
        </form>
      )}

      {shown && !old && <ConfigText config={shown} />}
      {shown && old && <ConfigDiff key={`${old.version}-${shown.version}`} old={old} current={shown} />}
      {version !== undefined && (!shown || (compare !== undefined && !old)) && !error && <p className="loading">Loading the config…</p>}

      {versions.items.length > 0 && (
        <>
          <h2 id="versions-title">Versions</h2>
          <table className="list versions" data-testid="versions" aria-labelledby="versions-title">
            <thead>
              <tr><th scope="col">Version</th><th scope="col">Applied</th><th scope="col">Tasks</th><th scope="col">Changes</th></tr>
            </thead>
            <tbody>
              {versions.items.map((config) => (
                <tr key={String(config.version)} data-version={String(config.version)} className={config.version === version ? 'current' : undefined}>
                  <td>
                    <Link to={`${base}/config?version=${config.version}`} aria-current={config.version === version && compare === undefined ? 'page' : undefined}>
                      v{String(config.version)}
                    </Link>
                    {config.version === version && <span className="muted"> (shown)</span>}
                  </td>
                  <td>{when(config.created)}</td>
                  <td>{taskList(config)}</td>
                  <td>
                    {config.version > 1n && (
                      <Link to={`${base}/config?version=${config.version}&compare=${config.version - 1n}`}>
                        diff with v{String(config.version - 1n)}
                      </Link>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
          {versions.more && (
            <button type="button" className="load-more" disabled={versions.busy} onClick={versions.loadMore}>
              {versions.busy ? 'Loading…' : 'Show older versions'}
            </button>
          )}
        </>
      )}
    </section>
  );
}

/** A `?version=`-like value: a positive whole number, or a problem to show. */
function parseVersion(name: string, value: string | null, problems: string[]): bigint | undefined {
  if (value === null || value === '') return undefined;
  if (/^[1-9]\d{0,17}$/.test(value)) return BigInt(value);
  problems.push(`${name}=${value} is not a version number (versions are 1, 2, 3 …).`);
  return undefined;
}

function versionLabel(version: bigint, newest: bigint | undefined): string {
  return `v${version}${version === newest ? ' (newest)' : ''}`;
}

function formatName(format: ConfigFormat): string {
  return format === ConfigFormat.YAML ? 'YAML' : format === ConfigFormat.JSON ? 'JSON' : 'format not recorded';
}

function taskList(config: PipelineConfig): string {
  const ids = config.tasks.map((task) => task.id);
  const named = ids.slice(0, TASKS_NAMED).join(', ');
  return ids.length > TASKS_NAMED ? `${named} and ${ids.length - TASKS_NAMED} more` : named;
}

/** Version `version`; versions count up from 1 and are never removed, so it is at offset `latest - version` (a scan if not). */
async function fetchVersion(api: GoferApi, namespaceId: string, pipelineId: string, version: bigint, latest: bigint): Promise<PipelineConfig> {
  if (latest >= version) {
    const { configs } = await api.listPipelineConfigs({ namespaceId, pipelineId, limit: 1, offset: Number(latest - version) });
    if (configs[0]?.version === version) return configs[0];
  }
  for (let offset = 0; ; offset += VERSIONS_PAGE) {
    const { configs } = await api.listPipelineConfigs({ namespaceId, pipelineId, limit: VERSIONS_PAGE, offset });
    const found = configs.find((config) => config.version === version);
    if (found) return found;
    if (configs.length < VERSIONS_PAGE) throw new Error(`version ${version} not found: this pipeline has versions 1 to ${latest}`);
  }
}

/** A text's lines, without the empty one after a final newline. */
function splitLines(text: string): string[] {
  const lines = text.split('\n');
  if (lines.length > 1 && lines.at(-1) === '') lines.pop();
  return lines;
}

function ConfigText({ config }: { config: PipelineConfig }) {
  const lines = splitLines(utf8.decode(config.config));
  return (
    <>
      <p className="muted" data-testid="config-about">
        v{String(config.version)} · {formatName(config.format)} · applied {when(config.created)} · {config.tasks.length} {config.tasks.length === 1 ? 'task' : 'tasks'}
      </p>
      {/* Focusable so a keyboard can scroll it; the numbers are drawn by CSS, so copying takes the config alone. */}
      <pre className="code" tabIndex={0} aria-label={`Config version ${config.version}`} data-testid="config-text"><code>
        {lines.map((line, i) => <span key={i} className="code-line" data-line={i + 1}>{line}{'\n'}</span>)}
      </code></pre>
    </>
  );
}

interface DiffLine {
  kind: 'added' | 'removed' | 'same';
  text: string;
  old?: number;
  new?: number;
  /** The last line of its side's text, which has no newline after it. */
  noNewline?: boolean;
}

/** Both texts' lines in order, each removed, added or the same, with its line number on each side. */
function lineDiff(oldText: string, newText: string): DiffLine[] | undefined {
  const changes = diffLines(oldText, newText, { timeout: DIFF_TIMEOUT_MS });
  if (!changes) return undefined;
  const lines: DiffLine[] = [];
  let oldNo = 0;
  let newNo = 0;
  for (const change of changes) {
    const texts = splitLines(change.value);
    texts.forEach((text, i) => {
      const noNewline = i === texts.length - 1 && !change.value.endsWith('\n') ? true : undefined;
      if (change.added) lines.push({ kind: 'added', text, new: ++newNo, noNewline });
      else if (change.removed) lines.push({ kind: 'removed', text, old: ++oldNo, noNewline });
      else lines.push({ kind: 'same', text, old: ++oldNo, new: ++newNo, noNewline });
    });
  }
  return lines;
}

const SIGN = { added: '+', removed: '-', same: ' ' } as const;

/** One line of a diff: <ins>/<del> say added/removed to assistive technology, the sign and class to the eye. */
function DiffRow({ line }: { line: DiffLine }) {
  const Tag = line.kind === 'added' ? 'ins' : line.kind === 'removed' ? 'del' : 'span';
  return (
    <Tag className={`diff-line ${line.kind}`} data-old={line.old} data-new={line.new}>
      <span className="ln" data-old={line.old} data-new={line.new} aria-hidden="true" />
      <span className="diff-sign">{SIGN[line.kind]}</span> {line.text}
      {line.noNewline && <span className="muted"> ⏎ no newline at the end</span>}
      {'\n'}
    </Tag>
  );
}

function ConfigDiff({ old, current }: { old: PipelineConfig; current: PipelineConfig }) {
  const [unfolded, setUnfolded] = useState<ReadonlySet<number>>(new Set());
  const code = useRef<HTMLPreElement>(null);
  const lines = lineDiff(utf8.decode(old.config), utf8.decode(current.config));
  if (!lines) {
    return <p role="alert" className="error">v{String(old.version)} and v{String(current.version)} are too different to compare line by line here.</p>;
  }
  const added = lines.filter((line) => line.kind === 'added').length;
  const removed = lines.filter((line) => line.kind === 'removed').length;
  // Long stretches of unchanged lines fold, keeping CONTEXT_LINES next to each change.
  const near = lines.map(() => false);
  lines.forEach((line, i) => {
    if (line.kind === 'same') return;
    for (let j = Math.max(0, i - CONTEXT_LINES); j <= Math.min(lines.length - 1, i + CONTEXT_LINES); j++) near[j] = true;
  });
  const rows: Array<{ fold: number; count: number } | { line: DiffLine; index: number }> = [];
  for (let i = 0; i < lines.length; ) {
    let end = i;
    while (end < lines.length && !near[end]) end++;
    if (end - i > 1 && !unfolded.has(i)) {
      rows.push({ fold: i, count: end - i });
      i = end;
      continue;
    }
    for (const stop = Math.max(end, i + 1); i < stop; i++) rows.push({ line: lines[i]!, index: i });
  }
  return (
    <>
      <p className="muted diff-about" data-testid="diff-about">
        Changes from v{String(old.version)} (older side, <span className="diff-sign">-</span>) to v{String(current.version)} (<span className="diff-sign">+</span>):{' '}
        {added === 0 && removed === 0 ? 'none, the two are identical' : `${added} ${added === 1 ? 'line' : 'lines'} added, ${removed} removed`}.
      </p>
      <pre ref={code} className="code diff" tabIndex={0} aria-label={`Changes from config version ${old.version} to ${current.version}`} data-testid="config-diff"><code>
        {rows.map((row) =>
          'fold' in row ? (
            <button key={`fold-${row.fold}`} type="button" className="fold" onClick={() => {
              setUnfolded((s) => new Set([...s, row.fold]));
              code.current?.focus(); // the button goes away; the keyboard stays in the diff
            }}>
              ⋯ {row.count} unchanged lines (show)
            </button>
          ) : (
            <DiffRow key={row.index} line={row.line} />
          ),
        )}
      </code></pre>
    </>
  );
}
