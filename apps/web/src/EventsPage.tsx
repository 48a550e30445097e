import { useEffect, useMemo, useState } from 'react';
import { Code, ConnectError } from '@connectrpc/connect';
import type { Event } from '@gofer/proto/es';
import { describeError, type GoferApi } from './api.js';
import { when } from './format.js';
import { Link } from './router.js';

/** How many of the newest stored events the feed starts with. */
const FIRST_EVENTS = 200;
/** The most rows kept in memory, newest first: a feed, not an archive. */
const MAX_ROWS = 1000;
const RECONNECT_MS = 2000;
/** New events are shown in batches: a burst of events is one render, not one each. */
const FLUSH_MS = 100;
/** A follow with nothing new sends nothing at all: one that has stayed open this long is taken as live. */
const OPEN_AFTER_MS = 1500;
/** Refusals a retry cannot fix: the page says why and stops following. */
const FINAL_CODES = new Set([Code.Unauthenticated, Code.PermissionDenied, Code.NotFound, Code.Unimplemented]);

type Feed = { state: 'connecting' } | { state: 'live' } | { state: 'reconnecting'; why: string } | { state: 'stopped'; why: string };

/** Every namespace's events (or one namespace's), live: the newest stored ones first, then each new one as it happens. */
export function EventsPage({ api, namespaceId }: { api: GoferApi; namespaceId?: string }) {
  const [events, setEvents] = useState<Event[]>([]);
  const [feed, setFeed] = useState<Feed>({ state: 'connecting' });
  const [kindFilter, setKindFilter] = useState('');

  useEffect(() => {
    const stop = new AbortController();
    let pending: Event[] = [];
    let flushTimer: ReturnType<typeof setTimeout> | undefined;
    let openTimer: ReturnType<typeof setTimeout> | undefined;
    let lastId = 0n;
    setEvents([]);
    setFeed({ state: 'connecting' });
    const flush = () => {
      flushTimer = undefined;
      const batch = pending.reverse();
      pending = [];
      setEvents((shown) => [...batch, ...shown].slice(0, MAX_ROWS));
    };
    (async () => {
      while (!stop.signal.aborted) {
        /** This connection's request was accepted: it sent an event or stayed open as long as a live one. */
        let accepted = false;
        openTimer = setTimeout(() => {
          accepted = true;
          setFeed({ state: 'live' });
        }, OPEN_AFTER_MS);
        try {
          // After a drop, every event after the last one seen (last: 0): nothing is missed, nothing shown twice.
          const request = { namespaceId: namespaceId ?? '', follow: true, afterId: lastId, last: lastId === 0n ? FIRST_EVENTS : 0 };
          for await (const { event } of api.listEvents(request, { signal: stop.signal })) {
            accepted = true;
            if (!event || event.id <= lastId) continue;
            lastId = event.id;
            clearTimeout(openTimer);
            setFeed((f) => (f.state === 'live' ? f : { state: 'live' }));
            pending.push(event);
            // A long catch-up after a drop: only the newest MAX_ROWS are ever shown, so keep no more.
            if (pending.length >= 2 * MAX_ROWS) pending.splice(0, pending.length - MAX_ROWS);
            flushTimer ??= setTimeout(flush, FLUSH_MS);
          }
          clearTimeout(openTimer);
          if (stop.signal.aborted) return;
          setFeed({ state: 'reconnecting', why: 'the stream ended' });
        } catch (error) {
          clearTimeout(openTimer);
          if (stop.signal.aborted) return;
          const code = ConnectError.from(error).code;
          // Connect also reports a truncated stream as InvalidArgument: a refusal only before the request was accepted.
          if (FINAL_CODES.has(code) || (code === Code.InvalidArgument && !accepted)) return setFeed({ state: 'stopped', why: describeError(error) });
          setFeed({ state: 'reconnecting', why: describeError(error) });
        }
        await new Promise((resolve) => setTimeout(resolve, RECONNECT_MS));
      }
    })();
    return () => {
      stop.abort();
      clearTimeout(flushTimer);
      clearTimeout(openTimer);
    };
  }, [api, namespaceId]);

  const shown = useMemo(() => {
    const wanted = kindFilter.trim().toLowerCase();
    return wanted ? events.filter((e) => e.kind.toLowerCase().includes(wanted)) : events;
  }, [events, kindFilter]);

  return (
    <section>
      <p className="crumbs">
        <Link to="/">Namespaces</Link> /{' '}
        {namespaceId ? <><Link to={`/namespaces/${encodeURIComponent(namespaceId)}`}>{namespaceId}</Link> / events</> : 'events of every namespace'}
      </p>
      <h1>Events{namespaceId ? ` in ${namespaceId}` : ''}</h1>
      <div className="feed-tools">
        <FeedState feed={feed} />
        <label htmlFor="kind-filter">Kind contains</label>
        <input id="kind-filter" type="search" value={kindFilter} onChange={(e) => setKindFilter(e.target.value)} placeholder="e.g. run_" spellCheck={false} />
        <span className="muted" data-testid="event-count">
          {shown.length === events.length ? `${events.length} events` : `${shown.length} of ${events.length} events`}
        </span>
      </div>
      {feed.state === 'stopped' && <p role="alert" className="error">{feed.why}</p>}
      {events.length === 0 && feed.state !== 'stopped' && (
        <p className="muted">{feed.state === 'live' ? 'No events yet: new ones appear here as they happen.' : 'Loading events…'}</p>
      )}
      {events.length > 0 && shown.length === 0 && <p className="muted">No event kind here contains “{kindFilter.trim()}”.</p>}
      {shown.length > 0 && (
        <table className="list events" data-testid="events">
          <caption className="sr">Events, newest first</caption>
          <thead>
            <tr><th scope="col">Time</th><th scope="col">Kind</th><th scope="col">About</th><th scope="col">Details</th></tr>
          </thead>
          <tbody>
            {shown.map((event) => (
              <tr key={String(event.id)} data-event={String(event.id)} data-kind={event.kind}>
                <td className="nowrap"><time dateTime={new Date(Number(event.emitted)).toISOString()}>{when(event.emitted)}</time></td>
                <td><code>{event.kind}</code></td>
                <td><About event={event} /></td>
                <td><code className="details">{compact(event.details)}</code></td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}

/** The follow's state in words and a symbol, announced to screen readers as it changes. */
function FeedState({ feed }: { feed: Feed }) {
  const [icon, label] = {
    connecting: ['…', 'connecting…'],
    live: ['●', 'live'],
    reconnecting: ['↻', 'reconnecting…'],
    stopped: ['■', 'stopped'],
  }[feed.state];
  return (
    <span role="status" className={`feed-state ${feed.state}`} data-testid="feed-state" data-state={feed.state} title={'why' in feed ? feed.why : undefined}>
      <span aria-hidden="true">{icon}</span> {label}
    </span>
  );
}

/** What an event is about: its namespace, pipeline, run and task, each a link to its page. */
function About({ event }: { event: Event }) {
  if (!event.namespaceId) return <span className="muted">global</span>;
  const ns = `/namespaces/${encodeURIComponent(event.namespaceId)}`;
  const pipeline = `${ns}/pipelines/${encodeURIComponent(event.pipelineId)}`;
  const run = `${pipeline}/runs/${event.runId}`;
  return (
    <span className="about">
      <Link to={ns}>{event.namespaceId}</Link>
      {event.pipelineId && <> / <Link to={pipeline}>{event.pipelineId}</Link></>}
      {event.pipelineId && event.runId > 0n && <> / <Link to={run}>run {String(event.runId)}</Link></>}
      {event.pipelineId && event.runId > 0n && event.taskId && <> / <Link to={`${run}/tasks/${encodeURIComponent(event.taskId)}`}>{event.taskId}</Link></>}
    </span>
  );
}

/** Details as one line of JSON; none when empty. */
function compact(details: string): string {
  if (!details) return '';
  try {
    const value: unknown = JSON.parse(details);
    if (value && typeof value === 'object' && Object.keys(value).length === 0) return '';
    return JSON.stringify(value);
  } catch {
    return details;
  }
}
