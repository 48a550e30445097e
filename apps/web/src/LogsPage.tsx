import { useCallback, useEffect, useMemo, useRef, useState, type FormEvent } from 'react';
import { useVirtualizer } from '@tanstack/react-virtual';
import { Code, ConnectError } from '@connectrpc/connect';
import { LogStream } from '@gofer/proto/es';
import { describeError, type GoferApi } from './api.js';
import { byteSize } from './format.js';
import { LogLines, type LogLine } from './log-lines.js';
import { Link, navigate } from './router.js';
import { useLoad } from './use-load.js';

const LINE_HEIGHT = 18;
/** How much of the log's end is read first: a 50 MB log opens at its end without reading the rest. */
const TAIL_BYTES = 1024 * 1024;
/** How much each "Load earlier" reads. */
const EARLIER_BYTES = 1024 * 1024;
/** Wait before reopening a follow the server dropped (an API replica going away). */
const RECONNECT_MS = 1000;
/** Refusals a retry cannot fix; anything else (a killed replica, a network blip, a proxy timeout) is retried. */
const FINAL_CODES = new Set([Code.Unauthenticated, Code.PermissionDenied, Code.NotFound, Code.Unimplemented]);

/**
 * A task attempt's output, tail first and live while it runs: ANSI colours rendered (as classes: the
 * page's CSP allows no inline styles), stdout and stderr told apart, and only the lines in view in the
 * DOM, so a long log does not freeze the tab. "Load earlier" reads what lies before the tail; search
 * looks through what is loaded; Download saves the whole log.
 */
export function LogsPage({ api, namespaceId, pipelineId, runId, taskId, attempt }: {
  api: GoferApi; namespaceId: string; pipelineId: string; runId: bigint; taskId: string; attempt: number | undefined;
}) {
  const { data: taskRun } = useLoad(async () => (await api.getTaskRun({ namespaceId, pipelineId, runId, taskId, attempt: 0 })).taskRun, [api, namespaceId, pipelineId, runId, taskId]);
  const shownAttempt = attempt ?? taskRun?.attempt;
  const lines = useRef<LogLine[]>([]);
  const [count, setCount] = useState(0);
  const [state, setState] = useState<'loading' | 'live' | 'reconnecting' | 'done'>('loading');
  const [error, setError] = useState<string>();
  const [follow, setFollow] = useState(true);
  /** Where the loaded lines begin in the log: bytes before it are not loaded (0 = the whole log is). */
  const [start, setStart] = useState(0);
  const [loadingEarlier, setLoadingEarlier] = useState(false);
  /** Set once "Load earlier" moved `start` back: the follow must not reset it to the tail's start. */
  const loadedEarlier = useRef(false);
  /** Bumped whenever the effect restarts, so a "Load earlier" of the attempt shown before is dropped. */
  const generation = useRef(0);
  const [match, setMatch] = useState<number>();
  const scroller = useRef<HTMLDivElement>(null);
  const search = useRef<HTMLInputElement>(null);
  const ref = useMemo(() => ({ namespaceId, pipelineId, runId, taskId, attempt: shownAttempt ?? 0 }), [namespaceId, pipelineId, runId, taskId, shownAttempt]);

  useEffect(() => {
    if (shownAttempt === undefined) return;
    generation.current += 1;
    loadedEarlier.current = false;
    lines.current = [];
    setCount(0);
    setStart(0);
    setMatch(undefined);
    setState('loading');
    setError(undefined);
    const stop = new AbortController();
    let frame = 0;
    const flush = () => {
      frame = 0;
      setCount(lines.current.length);
    };
    (async () => {
      let reader: LogLines | undefined;
      // The tail first, then everything the task writes next; a dropped follow resumes where it stopped.
      for (;;) {
        try {
          const request = reader ? { ...ref, follow: true, offset: BigInt(reader.end) } : { ...ref, follow: true, tail: BigInt(TAIL_BYTES) };
          for await (const chunk of api.getTaskRunLogs(request, { signal: stop.signal })) {
            reader ??= new LogLines(chunk.offset > 0n);
            lines.current.push(...reader.push(chunk.stream === LogStream.STDERR, chunk.chunk, Number(chunk.offset)));
            setState('live');
            if (!loadedEarlier.current) setStart(reader.start);
            frame ||= requestAnimationFrame(flush);
          }
          break;
        } catch (err) {
          const code = ConnectError.from(err).code;
          if (stop.signal.aborted || FINAL_CODES.has(code)) throw err;
          // Connect reports a truncated stream as InvalidArgument too: a refusal only if nothing came yet.
          if (code === Code.InvalidArgument && !reader) throw err;
          setState('reconnecting');
          await new Promise((resolve) => setTimeout(resolve, RECONNECT_MS));
        }
      }
      if (reader) lines.current.push(...reader.finish());
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
  }, [api, ref, shownAttempt]);

  const virtualizer = useVirtualizer({ count, getScrollElement: () => scroller.current, estimateSize: () => LINE_HEIGHT, overscan: 30 });
  useEffect(() => {
    if (follow && count > 0) virtualizer.scrollToIndex(count - 1, { align: 'end' });
  }, [count, follow, virtualizer]);

  /** Reads the stretch before the loaded lines and puts it above them, keeping the view where it was. */
  const loadEarlier = useCallback(async () => {
    const started = generation.current;
    setLoadingEarlier(true);
    setError(undefined);
    try {
      const from = Math.max(0, start - EARLIER_BYTES);
      const reader = new LogLines(from > 0);
      const earlier: LogLine[] = [];
      for await (const chunk of api.getTaskRunLogs({ ...ref, offset: BigInt(from), limit: BigInt(start - from) })) {
        earlier.push(...reader.push(chunk.stream === LogStream.STDERR, chunk.chunk, Number(chunk.offset)));
      }
      earlier.push(...reader.finish());
      if (generation.current !== started) return;
      loadedEarlier.current = true;
      const top = scroller.current?.scrollTop ?? 0;
      lines.current = [...earlier, ...lines.current];
      setMatch((m) => (m === undefined ? m : m + earlier.length));
      setStart(from === 0 ? 0 : Math.max(reader.start, from));
      setFollow(false);
      setCount(lines.current.length);
      requestAnimationFrame(() => scroller.current?.scrollTo({ top: top + earlier.length * LINE_HEIGHT }));
    } catch (err) {
      if (generation.current === started) setError(describeError(err));
    } finally {
      setLoadingEarlier(false);
    }
  }, [api, ref, start]);

  const [query, setQuery] = useState('');
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

  // The whole log as the container wrote it, not only the loaded part.
  const [downloading, setDownloading] = useState(false);
  const download = async () => {
    setDownloading(true);
    try {
      const parts: Uint8Array<ArrayBuffer>[] = [];
      for await (const chunk of api.getTaskRunLogs(ref)) parts.push(new Uint8Array(chunk.chunk));
      const link = document.createElement('a');
      link.href = URL.createObjectURL(new Blob(parts, { type: 'text/plain' }));
      link.download = `${pipelineId}-${runId}-${taskId}-attempt${shownAttempt}.log`;
      link.click();
      URL.revokeObjectURL(link.href);
    } catch (err) {
      setError(describeError(err));
    } finally {
      setDownloading(false);
    }
  };

  // "/" finds in the log (unless typing somewhere already), as in most log viewers.
  useEffect(() => {
    const onKey = (event: KeyboardEvent) => {
      if (event.key !== '/' || event.ctrlKey || event.metaKey || event.altKey) return;
      const target = event.target as HTMLElement | null;
      if (target && (target.isContentEditable || ['INPUT', 'TEXTAREA', 'SELECT'].includes(target.tagName))) return;
      event.preventDefault();
      search.current?.focus();
    };
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, []);

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
          <input ref={search} aria-label="Search the log" placeholder="Search (/)" title="Searches the loaded lines" value={query} onChange={(e) => { setQuery(e.target.value); setMatch(undefined); }} />
          <button type="submit">Find</button>
        </form>
        <label><input type="checkbox" checked={follow} onChange={(e) => setFollow(e.target.checked)} /> Follow</label>
        <button type="button" onClick={download} disabled={downloading}>{downloading ? 'Downloading…' : 'Download'}</button>
        <span className="muted" data-testid="log-state">{
          state === 'done' ? `${count} lines` : state === 'reconnecting' ? 'reconnecting…' : state
        }</span>
      </div>
      {error && <p role="alert" className="error">{error}</p>}
      {start > 0 && (
        <p className="log-earlier">
          <button type="button" onClick={loadEarlier} disabled={loadingEarlier}>
            {loadingEarlier ? 'Loading…' : `Load earlier (${byteSize(Math.min(start, EARLIER_BYTES))} of ${byteSize(start)} before)`}
          </button>
        </p>
      )}
      {/* Focusable, so arrow keys, Page Up/Down, Home and End scroll it. */}
      <div className="log" ref={scroller} data-testid="log" tabIndex={0} aria-label={`Log of ${taskId}`} onWheel={() => setFollow(false)}>
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
