import { useCallback, useEffect, useState } from 'react';
import { describeError } from './api.js';

/** Loads data when `deps` change; `reload()` loads it again (e.g. on an event), keeping what is shown meanwhile. */
export function useLoad<T>(load: () => Promise<T>, deps: unknown[]): { data?: T; error?: string; reload: () => void } {
  const [state, setState] = useState<{ data?: T; error?: string }>({});
  const [generation, setGeneration] = useState(0);
  useEffect(() => {
    let live = true;
    load().then((data) => live && setState({ data }), (err: unknown) => live && setState((s) => ({ data: s.data, error: describeError(err) })));
    return () => {
      live = false;
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [...deps, generation]);
  // When the page changes (deps), what was shown belongs to the old one.
  // eslint-disable-next-line react-hooks/exhaustive-deps
  useEffect(() => setState({}), deps);
  const reload = useCallback(() => setGeneration((g) => g + 1), []);
  return { ...state, reload };
}
