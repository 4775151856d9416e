import { useState } from 'preact/hooks';
import { api, errorText, repositoryPath } from '../api.js';
import { ErrorNote } from '../components/ErrorNote.js';
import { navigate } from '../router.js';
import type { RepositoryDetail } from '../types.js';

/** Visibility, description and deletion of a repository; shown only to its admins (can_admin). */
export function RepositorySettings({ repo, onChange }: { repo: RepositoryDetail; onChange: () => Promise<void> }) {
  const base = repositoryPath(repo.namespace, repo.name);
  const full = `${repo.namespace}/${repo.name}`;
  const [description, setDescription] = useState(repo.description ?? '');
  const [confirmName, setConfirmName] = useState('');
  const [error, setError] = useState<{ where: string; text: string } | null>(null);
  const [status, setStatus] = useState<string | null>(null);

  const run = async (where: string, action: () => Promise<void>, done: string) => {
    setError(null);
    try {
      await action();
      setStatus(done);
      await onChange();
    } catch (failure) {
      setError({ where, text: errorText(failure) });
    }
  };
  const nextVisibility = repo.is_public ? 'private' : 'public';

  return (
    <div class="settings">
      <p class="status" aria-live="polite">
        {status}
      </p>
      <section aria-labelledby="visibility-heading">
        <h2 id="visibility-heading">Visibility</h2>
        <p>This repository is {repo.is_public ? 'public: anyone can pull it, without signing in' : 'private: only people given access can pull it'}.</p>
        <button type="button" onClick={() => run('visibility', () => api('POST', `${base}/changevisibility`, { visibility: nextVisibility }), `The repository is now ${nextVisibility}.`)}>
          Make {nextVisibility}
        </button>
        {error?.where === 'visibility' ? <ErrorNote error={error.text} /> : null}
      </section>
      <section aria-labelledby="description-heading">
        <h2 id="description-heading">Description</h2>
        <form
          onSubmit={(event) => {
            event.preventDefault();
            void run('description', () => api('PUT', base, { description: description.trim() === '' ? null : description }), 'Description saved.');
          }}
        >
          <label for="repo-description">Description</label>
          <textarea id="repo-description" rows={3} value={description} onInput={(e) => setDescription(e.currentTarget.value)} />
          <button type="submit">Save description</button>
        </form>
        {error?.where === 'description' ? <ErrorNote error={error.text} /> : null}
      </section>
      <section aria-labelledby="delete-heading">
        <h2 id="delete-heading">Delete repository</h2>
        <form
          onSubmit={async (event) => {
            event.preventDefault();
            setError(null);
            try {
              await api('DELETE', base);
              navigate('/', true);
            } catch (failure) {
              setError({ where: 'delete', text: errorText(failure) });
            }
          }}
        >
          <label for="delete-confirm">Type {full} to delete it with all its tags</label>
          <input id="delete-confirm" value={confirmName} onInput={(e) => setConfirmName(e.currentTarget.value)} />
          <button type="submit" class="danger" disabled={confirmName !== full}>
            Delete repository
          </button>
        </form>
        {error?.where === 'delete' ? <ErrorNote error={error.text} /> : null}
      </section>
    </div>
  );
}
