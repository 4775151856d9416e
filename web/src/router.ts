import { useEffect, useState } from 'preact/hooks';

/**
 * A small history router: the address bar is the state (a page can be reloaded or linked), links are plain
 * <a href> elements that this intercepts, so they stay keyboard and middle-click friendly. The server
 * answers these same paths with index.html (src/web/ui-paths.ts).
 */

export interface Place {
  path: string;
  query: URLSearchParams;
}

const listeners = new Set<() => void>();

function current(): Place {
  return { path: window.location.pathname, query: new URLSearchParams(window.location.search) };
}

/** Goes to `href` (same origin) without reloading; `replace` keeps it out of the back history. */
export function navigate(href: string, replace = false): void {
  if (replace) window.history.replaceState(null, '', href);
  else window.history.pushState(null, '', href);
  window.scrollTo(0, 0);
  for (const listener of listeners) listener();
}

window.addEventListener('popstate', () => {
  for (const listener of listeners) listener();
});

// Clicks on same-origin links become navigations; modified clicks (new tab) keep the browser's behaviour.
document.addEventListener('click', (event) => {
  if (event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
  const anchor = (event.target as Element | null)?.closest?.('a');
  if (!anchor || anchor.target !== '' || anchor.hasAttribute('download')) return;
  const url = new URL(anchor.href, window.location.href);
  if (url.origin !== window.location.origin || url.pathname.startsWith('/api/') || url.pathname.startsWith('/v2')) return;
  event.preventDefault();
  navigate(url.pathname + url.search + url.hash);
});

/** The current place, re-rendering the caller on every navigation. */
export function usePlace(): Place {
  const [place, setPlace] = useState(current);
  useEffect(() => {
    const update = () => setPlace(current());
    listeners.add(update);
    return () => {
      listeners.delete(update);
    };
  }, []);
  return place;
}

/** The UI address of a repository page. */
export function repositoryHref(namespace: string, name: string, tab?: string): string {
  const base = `/repository/${encodeURIComponent(namespace)}/${name.split('/').map(encodeURIComponent).join('/')}`;
  return tab === undefined ? base : `${base}?tab=${encodeURIComponent(tab)}`;
}
