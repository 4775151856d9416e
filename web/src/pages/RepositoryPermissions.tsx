import { useState } from 'preact/hooks';
import { api, errorText, repositoryPath } from '../api.js';
import { ErrorNote } from '../components/ErrorNote.js';
import { GrantForm, RoleSelect, type DelegateKind } from '../components/GrantForm.js';
import { useLoad } from '../components/useLoad.js';
import type { RepositoryDetail, RepositoryRole } from '../types.js';

interface PermissionView {
  name: string;
  role: RepositoryRole;
  is_robot?: boolean;
}

interface Grant extends PermissionView {
  kind: DelegateKind;
}

/** One delegate's permission: its role (changed in place) and Remove; an error stays on its row. */
function GrantRow({ grant, base, onChange }: { grant: Grant; base: string; onChange: () => Promise<void> }) {
  const [error, setError] = useState<string | null>(null);
  const path = `${base}/permissions/${grant.kind}/${encodeURIComponent(grant.name)}`;
  const run = async (action: () => Promise<unknown>) => {
    setError(null);
    try {
      await action();
      await onChange();
    } catch (failure) {
      setError(errorText(failure));
    }
  };
  const kindName = grant.kind === 'team' ? 'team' : grant.is_robot ? 'robot' : 'user';
  return (
    <tr>
      <th scope="row">{grant.name}</th>
      <td>{kindName}</td>
      <td>
        <RoleSelect label={`Role of ${grant.name}`} value={grant.role} onChange={(role) => run(() => api('PUT', path, { role }))} />
      </td>
      <td>
        <button type="button" class="danger" onClick={() => run(() => api('DELETE', path))} aria-label={`Remove the permission of ${grant.name}`}>
          Remove
        </button>
        <ErrorNote error={error} />
      </td>
    </tr>
  );
}

/**
 * Who may pull, push or administer the repository beyond its namespace's admins: users and robots
 * (permissions/user) and, in an organization, teams (permissions/team). Shown to admins only.
 */
export function RepositoryPermissions({ repo }: { repo: RepositoryDetail }) {
  const base = repositoryPath(repo.namespace, repo.name);
  const grants = useLoad(async () => {
    const users = await api<{ permissions: Record<string, PermissionView> }>('GET', `${base}/permissions/user/`);
    const teams = repo.is_organization ? await api<{ permissions: Record<string, PermissionView> }>('GET', `${base}/permissions/team/`) : { permissions: {} };
    return [
      ...Object.values(users.permissions).map((p): Grant => ({ ...p, kind: 'user' })),
      ...Object.values(teams.permissions).map((p): Grant => ({ ...p, kind: 'team' })),
    ];
  }, [base, repo.is_organization]);
  const list = grants.value ?? [];
  return (
    <section aria-labelledby="permissions-heading">
      <h2 id="permissions-heading">Permissions</h2>
      <p class="muted">
        read: pull; write: pull, push and delete tags; admin: also change these settings.
        {repo.is_organization ? ' The admins of the organization administer every repository in it.' : ''}
      </p>
      <ErrorNote error={grants.error} />
      {grants.value !== undefined && list.length === 0 ? <p>No one else has a permission on this repository.</p> : null}
      {list.length > 0 ? (
        <div class="scroll">
          <table class="list">
            <caption class="visually-hidden">Permissions on {repo.namespace}/{repo.name}</caption>
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Kind</th>
                <th scope="col">Role</th>
                <th scope="col">Actions</th>
              </tr>
            </thead>
            <tbody>
              {list.map((grant) => (
                <GrantRow key={`${grant.kind}:${grant.name}`} grant={grant} base={base} onChange={grants.reload} />
              ))}
            </tbody>
          </table>
        </div>
      ) : null}
      <h3>Add a permission</h3>
      <GrantForm
        id="grant"
        allowTeams={repo.is_organization}
        submitLabel="Add permission"
        onGrant={async (kind, name, role) => {
          await api('PUT', `${base}/permissions/${kind}/${encodeURIComponent(name)}`, { role });
          await grants.reload();
        }}
      />
    </section>
  );
}
