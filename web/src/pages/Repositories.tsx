import { useState } from 'preact/hooks';
import { api, errorText } from '../api.js';
import { ErrorNote } from '../components/ErrorNote.js';
import { useLoad } from '../components/useLoad.js';
import { formatBytes, formatEpoch } from '../format.js';
import { repositoryHref } from '../router.js';
import { useSession } from '../session.js';
import type { RepositoryList, RepositorySummary } from '../types.js';

function listPath(nextPage?: string): string {
  const query = new URLSearchParams({ public: 'true', last_modified: 'true', quota: 'true' });
  if (nextPage !== undefined) query.set('next_page', nextPage);
  return `/repository?${query.toString()}`;
}

/** Every repository the user may see (their own, their organizations', public ones), 100 a page, filtered as typed. */
export function Repositories() {
  const { user } = useSession();
  const first = useLoad(() => api<RepositoryList>('GET', listPath()), []);
  const [more, setMore] = useState<RepositorySummary[]>([]);
  const [next, setNext] = useState<string | undefined | null>(null);
  const [moreError, setMoreError] = useState<string | null>(null);
  const [filter, setFilter] = useState('');

  const nextPage = next === null ? first.value?.next_page : next;
  const all = [...(first.value?.repositories ?? []), ...more];
  const needle = filter.trim().toLowerCase();
  const shown = needle === '' ? all : all.filter((repo) => `${repo.namespace}/${repo.name} ${repo.description ?? ''}`.toLowerCase().includes(needle));

  const loadMore = async () => {
    if (nextPage === undefined) return;
    try {
      const page = await api<RepositoryList>('GET', listPath(nextPage));
      setMore([...more, ...page.repositories]);
      setNext(page.next_page);
      setMoreError(null);
    } catch (failure) {
      setMoreError(errorText(failure));
    }
  };

  return (
    <section>
      <div class="page-head">
        <h1>Repositories</h1>
        {user?.can_create_repo ? (
          <a class="button primary" href="/new">
            Create repository
          </a>
        ) : null}
      </div>
      <label for="repository-filter">Search repositories</label>
      <input id="repository-filter" type="search" placeholder="namespace/name or description" value={filter} onInput={(e) => setFilter(e.currentTarget.value)} />
      <ErrorNote error={first.error} />
      {first.loading && first.value === undefined ? <p aria-live="polite">Loading…</p> : null}
      {first.value !== undefined && shown.length === 0 ? <p>{all.length === 0 ? 'No repositories yet. Push an image or create one.' : 'No repository matches.'}</p> : null}
      {shown.length > 0 ? (
        <table class="list">
          <caption class="visually-hidden">Repositories</caption>
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Visibility</th>
              <th scope="col">Last modified</th>
              <th scope="col">Size</th>
            </tr>
          </thead>
          <tbody>
            {shown.map((repo) => (
              <tr key={`${repo.namespace}/${repo.name}`}>
                <td>
                  <a href={repositoryHref(repo.namespace, repo.name)}>
                    {repo.namespace}/{repo.name}
                  </a>
                  {repo.description ? <div class="muted">{repo.description}</div> : null}
                </td>
                <td>
                  <span class={repo.is_public ? 'badge public' : 'badge'}>{repo.is_public ? 'public' : 'private'}</span>
                </td>
                <td>{formatEpoch(repo.last_modified)}</td>
                <td>{formatBytes(repo.quota_report?.quota_bytes)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : null}
      <ErrorNote error={moreError} />
      {nextPage !== undefined ? (
        <button type="button" onClick={loadMore}>
          More repositories
        </button>
      ) : null}
    </section>
  );
}
