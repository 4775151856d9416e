import { useState } from 'preact/hooks';
import { api, errorText } from '../../api.js';
import { CopyField } from '../../components/CopyField.js';
import { ErrorNote } from '../../components/ErrorNote.js';
import { Pager } from '../../components/Pager.js';
import { ScrollRegion } from '../../components/ScrollRegion.js';
import { useCursorPages } from '../../components/useCursorPages.js';
import { useSession } from '../../session.js';
import type { CreatedUser, SuperuserUser, SuperuserUserPage } from '../../superuser-types.js';

const PAGE_SIZE = 20;

function usersPath(cursor: string | undefined): string {
  const query = new URLSearchParams({ limit: String(PAGE_SIZE) });
  if (cursor !== undefined) query.set('next_page', cursor);
  return `/superuser/users/?${query.toString()}`;
}

/** One user: enable or disable, delete after a confirmation; none of it for superusers (the server refuses). */
function UserRow({ user, self, onChanged }: { user: SuperuserUser; self: boolean; onChanged: () => Promise<void> }) {
  const [confirming, setConfirming] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const path = `/superuser/users/${encodeURIComponent(user.username)}`;
  const act = async (action: () => Promise<unknown>) => {
    setError(null);
    try {
      await action();
      setConfirming(false);
      await onChanged();
    } catch (failure) {
      setError(errorText(failure));
    }
  };
  const manageable = !user.super_user && !self;
  return (
    <tr>
      <th scope="row">{user.username}</th>
      <td>{user.email ?? '—'}</td>
      <td>
        <span class={user.enabled ? 'badge public' : 'badge'}>{user.enabled ? 'enabled' : 'disabled'}</span>
        {user.super_user ? <span class="badge">superuser</span> : null}
      </td>
      <td>
        {manageable ? (
          <span class="confirm">
            <button type="button" onClick={() => act(() => api('PUT', path, { enabled: !user.enabled }))} aria-label={`${user.enabled ? 'Disable' : 'Enable'} user ${user.username}`}>
              {user.enabled ? 'Disable' : 'Enable'}
            </button>
            {confirming ? (
              <>
                <button type="button" class="danger" onClick={() => act(() => api('DELETE', path))}>
                  Delete {user.username}
                </button>
                <button type="button" onClick={() => setConfirming(false)}>
                  Cancel
                </button>
              </>
            ) : (
              <button type="button" class="danger" onClick={() => setConfirming(true)} aria-label={`Delete user ${user.username}`}>
                Delete
              </button>
            )}
          </span>
        ) : null}
        <ErrorNote error={error} />
      </td>
    </tr>
  );
}

/** Every user, PAGE_SIZE a page; create one (its generated password shown once), disable, delete. */
export function SuperuserUsers() {
  const { user: me } = useSession();
  const users = useCursorPages(async (cursor) => {
    const page = await api<SuperuserUserPage>('GET', usersPath(cursor));
    return { items: page.users, next: page.next_page };
  });
  const [username, setUsername] = useState('');
  const [email, setEmail] = useState('');
  const [created, setCreated] = useState<CreatedUser | null>(null);
  const [error, setError] = useState<string | null>(null);

  const create = async (event: Event) => {
    event.preventDefault();
    setError(null);
    setCreated(null);
    try {
      setCreated(await api<CreatedUser>('POST', '/superuser/users/', email.trim() === '' ? { username } : { username, email: email.trim() }));
      setUsername('');
      setEmail('');
      await users.reload();
    } catch (failure) {
      setError(errorText(failure));
    }
  };

  return (
    <>
      <h2>Create a user</h2>
      <form onSubmit={create} class="narrow">
        <label for="new-user-name">New username</label>
        <input id="new-user-name" required autoComplete="off" value={username} onInput={(e) => setUsername(e.currentTarget.value)} />
        <label for="new-user-email">E-mail (optional)</label>
        <input id="new-user-email" type="email" autoComplete="off" value={email} onInput={(e) => setEmail(e.currentTarget.value)} />
        <button type="submit" class="primary">
          Create user
        </button>
      </form>
      <ErrorNote error={error} />
      {created !== null ? (
        <div class="notice" role="status">
          <p>
            User <strong>{created.username}</strong> created. Give them this password now: it is not shown again.
          </p>
          <CopyField label={`password of ${created.username}`} value={created.password} />
        </div>
      ) : null}
      <h2>Users</h2>
      <ErrorNote error={users.error} />
      {users.loading && users.value === undefined ? <p aria-live="polite">Loading…</p> : null}
      {users.items.length > 0 ? (
        <ScrollRegion label="Users">
          <table class="list">
            <caption class="visually-hidden">Users</caption>
            <thead>
              <tr>
                <th scope="col">Username</th>
                <th scope="col">E-mail</th>
                <th scope="col">Status</th>
                <th scope="col">Actions</th>
              </tr>
            </thead>
            <tbody>
              {users.items.map((user) => (
                <UserRow key={user.username} user={user} self={user.username === me?.username} onChanged={users.reload} />
              ))}
            </tbody>
          </table>
        </ScrollRegion>
      ) : null}
      <Pager page={users.page} hasMore={users.hasMore} onPage={users.goTo} label="Pages of users" />
    </>
  );
}
