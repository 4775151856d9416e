import { useState } from 'preact/hooks';
import { api, errorText } from '../api.js';
import { ErrorNote } from '../components/ErrorNote.js';
import { GrantForm, RoleSelect } from '../components/GrantForm.js';
import { useLoad } from '../components/useLoad.js';
import type { RepositoryRole } from '../types.js';

interface Prototype {
  id: string;
  role: RepositoryRole;
  delegate: { name: string; kind: 'user' | 'team'; is_robot?: boolean };
}

const kindOf = (p: Prototype) => (p.delegate.kind === 'team' ? 'team' : p.delegate.is_robot ? 'robot' : 'user');

/** One default permission: its role changed in place (PUT prototypes/<id>) and Remove; an error stays on its row. */
function PrototypeRow({ prototype, path, onChange }: { prototype: Prototype; path: string; onChange: () => Promise<void> }) {
  const [error, setError] = useState<string | null>(null);
  const url = `${path}/${encodeURIComponent(prototype.id)}`;
  const run = async (action: () => Promise<unknown>) => {
    setError(null);
    try {
      await action();
      await onChange();
    } catch (failure) {
      setError(errorText(failure));
    }
  };
  const name = prototype.delegate.name;
  return (
    <tr>
      <th scope="row">{name}</th>
      <td>{kindOf(prototype)}</td>
      <td>
        <RoleSelect label={`Default role of ${name}`} value={prototype.role} onChange={(role) => run(() => api('PUT', url, { role }))} />
      </td>
      <td>
        <button type="button" class="danger" onClick={() => run(() => api('DELETE', url))} aria-label={`Remove the default permission of ${name}`}>
          Remove
        </button>
        <ErrorNote error={error} />
      </td>
    </tr>
  );
}

/**
 * Default permissions (Quay's prototypes, /organization/<org>/prototypes): the role a user, robot or team
 * gets on every repository created in the organization from now on. Organization admins only.
 */
export function DefaultPermissions({ org }: { org: string }) {
  const path = `/organization/${encodeURIComponent(org)}/prototypes`;
  const prototypes = useLoad(() => api<{ prototypes: Prototype[] }>('GET', path), [path]);
  const list = prototypes.value?.prototypes ?? [];
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
                <PrototypeRow key={p.id} prototype={p} path={path} onChange={prototypes.reload} />
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
