import { useState } from 'preact/hooks';
import { api, errorText, repositoryPath } from '../api.js';
import { CopyField } from '../components/CopyField.js';
import { ErrorNote } from '../components/ErrorNote.js';
import { ScrollRegion } from '../components/ScrollRegion.js';
import { Pager } from '../components/Pager.js';
import { useLoad } from '../components/useLoad.js';
import { formatBytes, formatEpoch, formatQuayDate, platformName, pullCommand, shortDigest } from '../format.js';
import type { Manifest, RepositoryDetail, Tag, TagPage } from '../types.js';

const PAGE_SIZE = 50;

/** The platforms of a multi-arch index, each with its size, read from GET .../manifest/<digest>. */
function Platforms({ repo, digest }: { repo: RepositoryDetail; digest: string }) {
  const manifest = useLoad(() => api<Manifest>('GET', `${repositoryPath(repo.namespace, repo.name)}/manifest/${encodeURIComponent(digest)}`), [digest]);
  if (manifest.error !== null) return <ErrorNote error={manifest.error} />;
  const children = manifest.value?.children;
  if (children === undefined || children === null) return <span class="muted">…</span>;
  return (
    <ul class="platforms">
      {children.map((child) => (
        <li key={child.digest} title={child.digest}>
          {platformName(child.platform ?? undefined)} <span class="muted">{formatBytes(child.size)}</span>
        </li>
      ))}
    </ul>
  );
}

function TagRow({ repo, tag, onDeleted }: { repo: RepositoryDetail; tag: Tag; onDeleted: () => Promise<void> }) {
  const [confirming, setConfirming] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const full = `${repo.namespace}/${repo.name}`;
  const remove = async () => {
    try {
      await api('DELETE', `${repositoryPath(repo.namespace, repo.name)}/tag/${encodeURIComponent(tag.name)}`);
      setConfirming(false);
      await onDeleted();
    } catch (failure) {
      setError(errorText(failure));
    }
  };
  return (
    <tr>
      <th scope="row">{tag.name}</th>
      <td>
        <code title={tag.manifest_digest}>{shortDigest(tag.manifest_digest)}</code>
      </td>
      <td>{formatBytes(tag.size)}</td>
      <td>{formatEpoch(tag.start_ts)}</td>
      <td>{tag.expiration === undefined ? 'never' : formatQuayDate(tag.expiration)}</td>
      <td>{tag.is_manifest_list ? <Platforms repo={repo} digest={tag.manifest_digest} /> : <span class="muted">single image</span>}</td>
      <td>
        <CopyField label={`pull command for ${tag.name}`} value={pullCommand(window.location.host, full, tag.name)} />
      </td>
      {repo.can_write ? (
        <td>
          {confirming ? (
            <span class="confirm">
              <button type="button" class="danger" onClick={remove}>
                Delete {tag.name}
              </button>
              <button type="button" onClick={() => setConfirming(false)}>
                Cancel
              </button>
            </span>
          ) : (
            <button type="button" onClick={() => setConfirming(true)} aria-label={`Delete tag ${tag.name}`}>
              Delete
            </button>
          )}
          <ErrorNote error={error} />
        </td>
      ) : null}
    </tr>
  );
}

/** The current tags, PAGE_SIZE a page (GET .../tag/?onlyActiveTags=true). */
export function TagList({ repo }: { repo: RepositoryDetail }) {
  const [page, setPage] = useState(1);
  const base = repositoryPath(repo.namespace, repo.name);
  const tags = useLoad(() => api<TagPage>('GET', `${base}/tag/?onlyActiveTags=true&limit=${PAGE_SIZE}&page=${page}`), [base, page]);
  const list = tags.value?.tags ?? [];
  return (
    <div>
      <ErrorNote error={tags.error} />
      {tags.value !== undefined && list.length === 0 ? (
        <p>
          No tags. Push one: <code>docker push {window.location.host}/{repo.namespace}/{repo.name}:latest</code>
        </p>
      ) : null}
      {list.length > 0 ? (
        <ScrollRegion label={`Tags of ${repo.namespace}/${repo.name}`}>
          <table class="list">
            <caption class="visually-hidden">Tags of {repo.namespace}/{repo.name}</caption>
            <thead>
              <tr>
                <th scope="col">Tag</th>
                <th scope="col">Digest</th>
                <th scope="col">Size</th>
                <th scope="col">Last modified</th>
                <th scope="col">Expires</th>
                <th scope="col">Platforms</th>
                <th scope="col">Pull</th>
                {repo.can_write ? <th scope="col">Actions</th> : null}
              </tr>
            </thead>
            <tbody>
              {list.map((tag) => (
                <TagRow key={`${tag.name}@${tag.manifest_digest}`} repo={repo} tag={tag} onDeleted={tags.reload} />
              ))}
            </tbody>
          </table>
        </ScrollRegion>
      ) : null}
      <Pager page={page} hasMore={tags.value?.has_additional === true} onPage={setPage} />
    </div>
  );
}

/** The pager moved to components/; TagHistory imports it from here. */
export { Pager };
