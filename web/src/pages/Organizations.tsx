import { useState } from 'preact/hooks';
import { api, errorText } from '../api.js';
import { ErrorNote } from '../components/ErrorNote.js';
import { navigate } from '../router.js';
import { useSession } from '../session.js';

/** The organizations the user belongs to, and a form to create one (its creator becomes its first admin). */
export function Organizations() {
  const { user, refresh } = useSession();
  const [name, setName] = useState('');
  const [error, setError] = useState<string | null>(null);
  const create = async (event: Event) => {
    event.preventDefault();
    setError(null);
    try {
      await api('POST', '/organization/', { name });
      await refresh();
      navigate(`/organization/${encodeURIComponent(name)}`);
    } catch (failure) {
      setError(errorText(failure));
    }
  };
  const organizations = user?.organizations ?? [];
  return (
    <section>
      <h1>Organizations</h1>
      {organizations.length === 0 ? <p>You belong to no organization.</p> : null}
      <ul>
        {organizations.map((org) => (
          <li key={org.name}>
            <a href={`/organization/${encodeURIComponent(org.name)}`}>{org.name}</a>
            {org.is_org_admin ? ' (admin)' : ''}
          </li>
        ))}
      </ul>
      <h2>Create an organization</h2>
      <form class="row" onSubmit={create}>
        <label for="org-name">Organization name</label>
        <input id="org-name" required value={name} onInput={(e) => setName(e.currentTarget.value)} />
        <button type="submit" class="primary">
          Create organization
        </button>
      </form>
      <ErrorNote error={error} />
    </section>
  );
}
