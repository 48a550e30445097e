import { useCallback, useEffect, useRef, useState } from 'react';
import { describeError } from './api.js';

export interface Pages<T> {
  items: T[];
  /** The server has items past the last one loaded. */
  more: boolean;
  busy: boolean;
  error?: string;
  loadMore: () => void;
}

/**
 * A newest-first list loaded a page at a time: the first page when `deps` change, the next on
 * `loadMore()`. Asks for one item more than a page to know whether there is a next page without an
 * empty last request; an item already loaded (the list moved down under a new one) is not repeated.
 */
export function usePages<T>(
  fetchPage: (offset: number, limit: number) => Promise<T[]>,
  pageSize: number,
  keyOf: (item: T) => string,
  deps: unknown[],
): Pages<T> {
  const [state, setState] = useState<Omit<Pages<T>, 'loadMore'>>({ items: [], more: false, busy: true });
  // Answers for an earlier `deps` are dropped: a slow first page must not overwrite a newer filter's.
  const generation = useRef(0);
  const loaded = useRef(0);

  const load = useCallback(async (gen: number, offset: number) => {
    setState((s) => ({ ...s, busy: true, error: undefined }));
    try {
      const page = await fetchPage(offset, pageSize + 1);
      if (gen !== generation.current) return;
      setState((s) => {
        const seen = new Set(s.items.map(keyOf));
        const items = [...s.items, ...page.slice(0, pageSize).filter((item) => !seen.has(keyOf(item)))];
        loaded.current = items.length;
        return { items, more: page.length > pageSize, busy: false };
      });
    } catch (err) {
      if (gen === generation.current) setState((s) => ({ ...s, busy: false, error: describeError(err) }));
    }
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, deps);

  useEffect(() => {
    const gen = ++generation.current;
    loaded.current = 0;
    setState({ items: [], more: false, busy: true });
    void load(gen, 0);
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, deps);

  const loadMore = useCallback(() => void load(generation.current, loaded.current), [load]);
  return { ...state, loadMore };
}
