// Deep-linkable pages with the History API: every page is a URL under /ui/, and back/forward work.
import { useEffect, useState, type AnchorHTMLAttributes, type MouseEvent } from 'react';

const BASE = '/ui';

export function currentPath(): string {
  const path = location.pathname.startsWith(BASE) ? location.pathname.slice(BASE.length) : location.pathname;
  return path === '' ? '/' : path;
}

/** Goes to `path` (under /ui, optionally with a `?query`), as a new history entry. */
export function navigate(path: string): void {
  history.pushState(null, '', `${BASE}${path}`);
  window.dispatchEvent(new PopStateEvent('popstate'));
}

/** The path under /ui/, re-rendered on navigation and on back/forward. */
export function usePath(): string {
  const [path, setPath] = useState(currentPath);
  const [, setSearch] = useState(location.search); // a new ?attempt= re-renders the page too
  useEffect(() => {
    const update = () => {
      setPath(currentPath());
      setSearch(location.search);
    };
    window.addEventListener('popstate', update);
    return () => window.removeEventListener('popstate', update);
  }, []);
  return path;
}

/** A link that navigates in-app (and still opens in a new tab with a modifier key). */
export function Link({ to, children, ...rest }: { to: string } & Omit<AnchorHTMLAttributes<HTMLAnchorElement>, 'href' | 'onClick'>) {
  const onClick = (event: MouseEvent<HTMLAnchorElement>) => {
    if (event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
    event.preventDefault();
    navigate(to);
  };
  return (
    <a {...rest} href={`${BASE}${to}`} onClick={onClick}>
      {children}
    </a>
  );
}
