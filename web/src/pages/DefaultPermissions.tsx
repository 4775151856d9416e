import { useState } from 'preact/hooks';
import { api, errorText } from '../api.js';
import { ErrorNote } from '../components/ErrorNote.js';
import { GrantForm } from '../components/GrantForm.js';
import { useLoad } from '../components/useLoad.js';
import type { RepositoryRole } from '../types.js';

interface Prototype {
  id: string;
  role: RepositoryRole;
  delegate: { name: string; kind: 'user' | 'team'; is_robot?: boolean };
}

/**
 * Default permissions (Quay's prototypes, /organization/<org>/prototypes): the role a user, robot or team
 * gets on every repository created in the organization from now on. Organization admins only.
 */
export function DefaultPermissions({ org }: { org: string }) {
  const path = `/organization/${encodeURIComponent(org)}/prototypes`;
  const prototypes = useLoad(() => api<{ prototypes: Prototype[] }>('GET', path), [path]);
  const [error, setError] = useState<{ id: string; text: string } | null>(null);
  const remove = async (prototype: Prototype) => {
    setError(null);
    try {
      await api('DELETE', `${path}/${encodeURIComponent(prototype.id)}`);
      await prototypes.reload();
    } catch (failure) {
      setError({ id: prototype.id, text: errorText(failure) });
    }
  };
  const list = prototypes.value?.prototypes ?? [];
  const kindOf = (p: Prototype) => (p.delegate.kind === 'team' ? 'team' : p.delegate.is_robot ? 'robot' : 'user');
  return (
    <section aria-labelledby="defaults-heading">
      <h2 id="defaults-heading">Default permissions</h2>
      <p class="muted">Given on every repository created in {org} from now on; repositories that exist keep theirs.</p>
      <ErrorNote error={prototypes.error} />
      {prototypes.value !== undefined && list.length === 0 ? <p>No default permissions.</p> : null}
      {list.length > 0 ? (
        <div class="scroll">
          <table class="list">
            <caption class="visually-hidden">Default permissions of {org}</caption>
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Kind</th>
                <th scope="col">Role</th>
                <th scope="col">Actions</th>
              </tr>
            </thead>
            <tbody>
              {list.map((p) => (
                <tr key={p.id}>
                  <th scope="row">{p.delegate.name}</th>
                  <td>{kindOf(p)}</td>
                  <td>{p.role}</td>
                  <td>
                    <button type="button" class="danger" onClick={() => remove(p)} aria-label={`Remove the default permission of ${p.delegate.name}`}>
                      Remove
                    </button>
                    {error?.id === p.id ? <ErrorNote error={error.text} /> : null}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : null}
      <h3>Add a default permission</h3>
      <GrantForm
        id="prototype"
        allowTeams
        submitLabel="Add default permission"
        onGrant={async (kind, name, role) => {
          await api('POST', path, { delegate: { kind, name }, role });
          await prototypes.reload();
        }}
      />
    </section>
  );
}
