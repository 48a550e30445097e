import { useEffect, useMemo, useRef, useState, type FormEvent } from 'react';
import { useVirtualizer } from '@tanstack/react-virtual';
import { AnsiUp } from 'ansi_up';
import { LogStream } from '@gofer/proto/es';
import { describeError, type GoferApi } from './api.js';
import { Link, navigate } from './router.js';
import { useLoad } from './use-load.js';

const LINE_HEIGHT = 18;

interface Line {
  stderr: boolean;
  text: string;
  html: string;
}

/**
 * A task attempt's output, live while it runs: ANSI colours rendered (as classes: the page's CSP
 * allows no inline styles), stdout and stderr told apart, and only the lines in view in the DOM, so a
 * long log does not freeze the tab. Search jumps to matches; Download saves the whole text.
 */
export function LogsPage({ api, namespaceId, pipelineId, runId, taskId, attempt }: {
  api: GoferApi; namespaceId: string; pipelineId: string; runId: bigint; taskId: string; attempt: number | undefined;
}) {
  const { data: taskRun } = useLoad(async () => (await api.getTaskRun({ namespaceId, pipelineId, runId, taskId, attempt: 0 })).taskRun, [api, namespaceId, pipelineId, runId, taskId]);
  const shownAttempt = attempt ?? taskRun?.attempt;
  const lines = useRef<Line[]>([]);
  const [count, setCount] = useState(0);
  const [state, setState] = useState<'loading' | 'live' | 'done'>('loading');
  const [error, setError] = useState<string>();
  const [follow, setFollow] = useState(true);
  const scroller = useRef<HTMLDivElement>(null);

  useEffect(() => {
    if (shownAttempt === undefined) return;
    lines.current = [];
    setCount(0);
    setState('loading');
    setError(undefined);
    const stop = new AbortController();
    const ansi = { out: new AnsiUp(), err: new AnsiUp() };
    for (const a of Object.values(ansi)) a.use_classes = true;
    const decoders = { out: new TextDecoder(), err: new TextDecoder() };
    const partial = { out: '', err: '' };
    let frame = 0;
    const flush = () => {
      frame = 0;
      setCount(lines.current.length);
    };
    const push = (key: 'out' | 'err', text: string, end = false) => {
      const parts = (partial[key] + text).split('\n');
      partial[key] = end ? '' : parts.pop()!;
      for (const part of parts) {
        if (end && part === '' && parts.length === 1) continue;
        lines.current.push({ stderr: key === 'err', text: part, html: ansi[key].ansi_to_html(part) });
      }
      frame ||= requestAnimationFrame(flush);
    };
    (async () => {
      setState('live');
      for await (const chunk of api.getTaskRunLogs({ namespaceId, pipelineId, runId, taskId, attempt: shownAttempt, follow: true }, { signal: stop.signal })) {
        const key = chunk.stream === LogStream.STDERR ? 'err' : 'out';
        push(key, decoders[key].decode(chunk.chunk, { stream: true }));
      }
      for (const key of ['out', 'err'] as const) if (partial[key]) push(key, decoders[key].decode(), true);
      setState('done');
      flush();
    })().catch((err: unknown) => {
      if (stop.signal.aborted) return;
      setError(describeError(err));
      setState('done');
    });
    return () => {
      stop.abort();
      cancelAnimationFrame(frame);
    };
  }, [api, namespaceId, pipelineId, runId, taskId, shownAttempt]);

  const virtualizer = useVirtualizer({ count, getScrollElement: () => scroller.current, estimateSize: () => LINE_HEIGHT, overscan: 30 });
  useEffect(() => {
    if (follow && count > 0) virtualizer.scrollToIndex(count - 1, { align: 'end' });
  }, [count, follow, virtualizer]);

  const [query, setQuery] = useState('');
  const [match, setMatch] = useState<number>();
  const find = (event: FormEvent) => {
    event.preventDefault();
    if (!query) return;
    const from = match === undefined ? 0 : match + 1;
    const all = lines.current;
    let found = all.findIndex((line, i) => i >= from && line.text.includes(query));
    if (found < 0) found = all.findIndex((line) => line.text.includes(query));
    setMatch(found < 0 ? undefined : found);
    if (found >= 0) {
      setFollow(false);
      virtualizer.scrollToIndex(found, { align: 'center' });
    }
  };
  const download = () => {
    const blob = new Blob([lines.current.map((l) => l.text).join('\n')], { type: 'text/plain' });
    const link = document.createElement('a');
    link.href = URL.createObjectURL(blob);
    link.download = `${pipelineId}-${runId}-${taskId}-attempt${shownAttempt}.log`;
    link.click();
    URL.revokeObjectURL(link.href);
  };

  const runPath = `/namespaces/${encodeURIComponent(namespaceId)}/pipelines/${encodeURIComponent(pipelineId)}/runs/${runId}`;
  const attempts = useMemo(() => Array.from({ length: taskRun?.attempt ?? 0 }, (_, i) => i + 1), [taskRun?.attempt]);
  return (
    <section>
      <p className="crumbs">
        <Link to="/">Namespaces</Link> / <Link to={`/namespaces/${encodeURIComponent(namespaceId)}`}>{namespaceId}</Link> /{' '}
        <Link to={`/namespaces/${encodeURIComponent(namespaceId)}/pipelines/${encodeURIComponent(pipelineId)}`}>{pipelineId}</Link> /{' '}
        <Link to={runPath}>run {String(runId)}</Link> / {taskId}
      </p>
      <h1>Logs of {taskId}</h1>
      <div className="log-tools">
        {attempts.length > 1 && (
          <label>
            Attempt{' '}
            <select value={shownAttempt} onChange={(e) => navigate(`${runPath}/tasks/${encodeURIComponent(taskId)}?attempt=${e.target.value}`)}>
              {attempts.map((a) => <option key={a} value={a}>{a}</option>)}
            </select>
          </label>
        )}
        <form onSubmit={find} role="search">
          <input aria-label="Search the log" placeholder="Search" value={query} onChange={(e) => { setQuery(e.target.value); setMatch(undefined); }} />
          <button type="submit">Find</button>
        </form>
        <label><input type="checkbox" checked={follow} onChange={(e) => setFollow(e.target.checked)} /> Follow</label>
        <button type="button" onClick={download}>Download</button>
        <span className="muted" data-testid="log-state">{state === 'live' ? 'live' : state === 'done' ? `${count} lines` : 'loading'}</span>
      </div>
      {error && <p role="alert" className="error">{error}</p>}
      <div className="log" ref={scroller} data-testid="log" onWheel={() => setFollow(false)}>
        <div style={{ height: virtualizer.getTotalSize() }} className="log-inner">
          {virtualizer.getVirtualItems().map((item) => {
            const line = lines.current[item.index]!;
            return (
              <div
                key={item.key}
                className={`log-line${line.stderr ? ' stderr' : ''}${item.index === match ? ' match' : ''}`}
                data-line={item.index + 1}
                ref={virtualizer.measureElement}
                data-index={item.index}
                // Positioned by transform: the only inline style, set through the DOM API (CSP permits it).
                style={{ transform: `translateY(${item.start}px)` }}
                dangerouslySetInnerHTML={{ __html: line.html || '&nbsp;' }}
              />
            );
          })}
        </div>
      </div>
    </section>
  );
}
