import { useCallback, useEffect, useRef, useState } from 'react';
import { describeError } from './api.js';

/**
 * Loads data when `deps` change; `reload()` loads it again (e.g. on an event), keeping what is shown meanwhile.
 * A reload drops the answer of a load still in flight, unless `coalesce`: then at most one load is in
 * flight, every answer is shown, and any reloads asked for meanwhile make exactly one more after it (a page
 * reloaded by a stream of events whose load takes longer than the events' spacing would otherwise never update).
 */
export function useLoad<T>(load: () => Promise<T>, deps: unknown[], { coalesce = false } = {}): { data?: T; error?: string; reload: () => void } {
  const [state, setState] = useState<{ data?: T; error?: string }>({});
  const [generation, setGeneration] = useState(0);
  const again = useRef<() => void>(undefined);
  useEffect(() => {
    let live = true;
    const settle = () =>
      load().then((data) => live && setState({ data }), (err: unknown) => live && setState((s) => ({ data: s.data, error: describeError(err) })));
    if (!coalesce) {
      void settle();
      return () => {
        live = false;
      };
    }
    const run = coalescing(() => (live ? settle() : Promise.resolve()));
    again.current = run;
    run();
    return () => {
      live = false;
      again.current = undefined;
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, coalesce ? deps : [...deps, generation]);
  // When the page changes (deps), what was shown belongs to the old one.
  // eslint-disable-next-line react-hooks/exhaustive-deps
  useEffect(() => setState({}), deps);
  const reload = useCallback(() => (coalesce ? again.current?.() : setGeneration((g) => g + 1)), [coalesce]);
  return { ...state, reload };
}

/**
 * `load` behind a trigger that never overlaps it: triggered while it runs, it runs once more right
 * after, however many times it was triggered meanwhile.
 */
export function coalescing(load: () => Promise<unknown>): () => void {
  let loading = false;
  let wanted = false;
  const run = (): void => {
    if (loading) {
      wanted = true;
      return;
    }
    loading = true;
    wanted = false;
    const done = () => {
      loading = false;
      if (wanted) run();
    };
    load().then(done, done);
  };
  return run;
}
