import { useState } from 'preact/hooks';
import { useLoad } from './useLoad.js';

/** One page of a list the server pages with an opaque cursor (Quay's `next_page`). */
export interface CursorPage<T> {
  items: T[];
  next?: string;
}

/**
 * Pages through a cursor-paged list: the cursors of the pages seen are kept, so "previous" goes back to a
 * page already visited without the server having to page backwards (Quay's cursors only go forward).
 */
export function useCursorPages<T>(load: (cursor: string | undefined) => Promise<CursorPage<T>>) {
  const [cursors, setCursors] = useState<Array<string | undefined>>([undefined]);
  const [index, setIndex] = useState(0);
  const cursor = cursors[index];
  const current = useLoad(() => load(cursor), [index, cursor]);
  const next = current.value?.next;
  const goTo = (page: number) => {
    if (page === index + 2 && next !== undefined) {
      setCursors([...cursors.slice(0, index + 1), next]);
      setIndex(index + 1);
    } else if (page >= 1 && page <= index) {
      setIndex(page - 1);
    }
  };
  return { ...current, items: current.value?.items ?? [], page: index + 1, hasMore: next !== undefined, goTo };
}
