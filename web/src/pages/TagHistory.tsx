import { useState } from 'preact/hooks';
import { api, errorText, repositoryPath } from '../api.js';
import { ErrorNote } from '../components/ErrorNote.js';
import { ScrollRegion } from '../components/ScrollRegion.js';
import { useLoad } from '../components/useLoad.js';
import { formatBytes, formatEpoch, shortDigest } from '../format.js';
import type { RepositoryDetail, Tag, TagPage } from '../types.js';
import { Pager } from './TagList.js';

const PAGE_SIZE = 50;

/**
 * Every lifetime of every tag, newest first. A lifetime that ended (the tag moved or was deleted) can be
 * restored: POST .../tag/<tag>/restore points the tag at that manifest again.
 */
export function TagHistory({ repo }: { repo: RepositoryDetail }) {
  const [page, setPage] = useState(1);
  const [status, setStatus] = useState<string | null>(null);
  // A failed restore is explained on the row whose Restore was pressed.
  const [error, setError] = useState<{ key: string; text: string } | null>(null);
  const base = repositoryPath(repo.namespace, repo.name);
  const history = useLoad(() => api<TagPage>('GET', `${base}/tag/?limit=${PAGE_SIZE}&page=${page}`), [base, page]);
  // A tag is current until its end; an end still ahead is an expiry (docs/tag-expiration.md).
  const isCurrent = (tag: Tag) => tag.end_ts === undefined || tag.end_ts * 1000 > Date.now();
  const current = new Map((history.value?.tags ?? []).filter(isCurrent).map((tag) => [tag.name, tag.manifest_digest]));

  const keyOf = (tag: Tag) => `${tag.name}@${tag.start_ts}@${tag.manifest_digest}`;
  const restore = async (tag: Tag) => {
    setError(null);
    try {
      await api('POST', `${base}/tag/${encodeURIComponent(tag.name)}/restore`, { manifest_digest: tag.manifest_digest });
      setStatus(`Restored ${tag.name} to ${shortDigest(tag.manifest_digest)}.`);
      await history.reload();
    } catch (failure) {
      setError({ key: keyOf(tag), text: errorText(failure) });
    }
  };

  const list = history.value?.tags ?? [];
  return (
    <div>
      <ErrorNote error={history.error} />
      <p class="status" aria-live="polite">
        {status}
      </p>
      {history.value !== undefined && list.length === 0 ? <p>No tag has ever been pushed here.</p> : null}
      {list.length > 0 ? (
        <ScrollRegion label={`Tag history of ${repo.namespace}/${repo.name}`}>
          <table class="list">
            <caption class="visually-hidden">Tag history of {repo.namespace}/{repo.name}</caption>
            <thead>
              <tr>
                <th scope="col">Tag</th>
                <th scope="col">Digest</th>
                <th scope="col">Size</th>
                <th scope="col">From</th>
                <th scope="col">Until</th>
                {repo.can_write ? <th scope="col">Actions</th> : null}
              </tr>
            </thead>
            <tbody>
              {list.map((tag) => {
                const restorable = !isCurrent(tag) && current.get(tag.name) !== tag.manifest_digest;
                return (
                  <tr key={keyOf(tag)}>
                    <th scope="row">{tag.name}</th>
                    <td>
                      <code title={tag.manifest_digest}>{shortDigest(tag.manifest_digest)}</code>
                    </td>
                    <td>{formatBytes(tag.size)}</td>
                    <td>{formatEpoch(tag.start_ts)}</td>
                    <td>{tag.end_ts === undefined ? 'now' : isCurrent(tag) ? `now (expires ${formatEpoch(tag.end_ts)})` : formatEpoch(tag.end_ts)}</td>
                    {repo.can_write ? (
                      <td>
                        {restorable ? (
                          <button type="button" onClick={() => restore(tag)} aria-label={`Restore ${tag.name} to ${shortDigest(tag.manifest_digest)}`}>
                            Restore
                          </button>
                        ) : null}
                        {error?.key === keyOf(tag) ? <ErrorNote error={error.text} /> : null}
                      </td>
                    ) : null}
                  </tr>
                );
              })}
            </tbody>
          </table>
        </ScrollRegion>
      ) : null}
      <Pager page={page} hasMore={history.value?.has_additional === true} onPage={setPage} />
    </div>
  );
}
