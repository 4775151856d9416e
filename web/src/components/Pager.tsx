/** Previous / next page buttons of a paged list; nothing when everything fits on the first page. */
export function Pager({ page, hasMore, onPage, label = 'Pages' }: { page: number; hasMore: boolean; onPage: (page: number) => void; label?: string }) {
  if (page === 1 && !hasMore) return null;
  return (
    <nav class="pager" aria-label={label}>
      <button type="button" disabled={page === 1} onClick={() => onPage(page - 1)}>
        Previous page
      </button>
      <span>Page {page}</span>
      <button type="button" disabled={!hasMore} onClick={() => onPage(page + 1)}>
        Next page
      </button>
    </nav>
  );
}
