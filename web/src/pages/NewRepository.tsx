import { useState } from 'preact/hooks';
import { api, errorText } from '../api.js';
import { ErrorNote } from '../components/ErrorNote.js';
import { navigate, repositoryHref } from '../router.js';
import { useSession } from '../session.js';

/** POST /api/v1/repository in a namespace where the user may create (their own, orgs with the creator role). */
export function NewRepository() {
  const { user } = useSession();
  const namespaces = user === null ? [] : [user.username, ...user.organizations.filter((org) => org.can_create_repo).map((org) => org.name)];
  const [namespace, setNamespace] = useState(namespaces[0] ?? '');
  const [name, setName] = useState('');
  const [visibility, setVisibility] = useState<'private' | 'public'>('private');
  const [description, setDescription] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const submit = async (event: Event) => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await api('POST', '/repository', { namespace, repository: name, visibility, description: description.trim() === '' ? null : description });
      navigate(repositoryHref(namespace, name), true);
    } catch (failure) {
      setError(errorText(failure));
      setBusy(false);
    }
  };
  return (
    <section class="narrow">
      <h1>Create repository</h1>
      <form onSubmit={submit}>
        <label for="new-namespace">Namespace</label>
        <select id="new-namespace" value={namespace} onChange={(e) => setNamespace(e.currentTarget.value)}>
          {namespaces.map((ns) => (
            <option key={ns} value={ns}>
              {ns}
            </option>
          ))}
        </select>
        <label for="new-name">Repository name</label>
        <input id="new-name" required value={name} onInput={(e) => setName(e.currentTarget.value)} aria-describedby="new-name-hint" />
        <p id="new-name-hint" class="muted">
          Lower-case letters, digits and . _ - separators; a / makes a nested name (tools/app).
        </p>
        <fieldset>
          <legend>Visibility</legend>
          <label class="inline">
            <input type="radio" name="visibility" value="private" checked={visibility === 'private'} onChange={() => setVisibility('private')} /> Private: only
            people given access can pull
          </label>
          <label class="inline">
            <input type="radio" name="visibility" value="public" checked={visibility === 'public'} onChange={() => setVisibility('public')} /> Public: anyone can
            pull
          </label>
        </fieldset>
        <label for="new-description">Description (optional)</label>
        <textarea id="new-description" rows={3} value={description} onInput={(e) => setDescription(e.currentTarget.value)} />
        <ErrorNote error={error} />
        <button type="submit" class="primary" disabled={busy}>
          {busy ? 'Creating…' : 'Create repository'}
        </button>
      </form>
    </section>
  );
}
