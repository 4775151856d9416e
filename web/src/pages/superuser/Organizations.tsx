import { useState } from 'preact/hooks';
import { api, errorText } from '../../api.js';
import { ErrorNote } from '../../components/ErrorNote.js';
import { Pager } from '../../components/Pager.js';
import { ScrollRegion } from '../../components/ScrollRegion.js';
import { useCursorPages } from '../../components/useCursorPages.js';
import type { SuperuserOrganization, SuperuserOrganizationPage } from '../../superuser-types.js';

const PAGE_SIZE = 20;

function organizationsPath(cursor: string | undefined): string {
  const query = new URLSearchParams({ limit: String(PAGE_SIZE) });
  if (cursor !== undefined) query.set('next_page', cursor);
  return `/superuser/organizations/?${query.toString()}`;
}

function OrganizationRow({ org, onDeleted }: { org: SuperuserOrganization; onDeleted: () => Promise<void> }) {
  const [confirming, setConfirming] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const remove = async () => {
    setError(null);
    try {
      await api('DELETE', `/superuser/organizations/${encodeURIComponent(org.name)}`);
      setConfirming(false);
      await onDeleted();
    } catch (failure) {
      setError(errorText(failure));
    }
  };
  return (
    <tr>
      <th scope="row">
        <a href={`/organization/${encodeURIComponent(org.name)}`}>{org.name}</a>
      </th>
      <td>{org.email === '' ? '—' : org.email}</td>
      <td>
        {confirming ? (
          <span class="confirm">
            <button type="button" class="danger" onClick={remove}>
              Delete {org.name}
            </button>
            <button type="button" onClick={() => setConfirming(false)}>
              Cancel
            </button>
          </span>
        ) : (
          <button type="button" class="danger" onClick={() => setConfirming(true)} aria-label={`Delete organization ${org.name}`}>
            Delete
          </button>
        )}
        <ErrorNote error={error} />
      </td>
    </tr>
  );
}

/** Every organization, PAGE_SIZE a page, each with a delete (refused in words while it has repositories). */
export function SuperuserOrganizations() {
  const organizations = useCursorPages(async (cursor) => {
    const page = await api<SuperuserOrganizationPage>('GET', organizationsPath(cursor));
    return { items: page.organizations, next: page.next_page };
  });
  return (
    <>
      <h2>Organizations</h2>
      <ErrorNote error={organizations.error} />
      {organizations.loading && organizations.value === undefined ? <p aria-live="polite">Loading…</p> : null}
      {organizations.value !== undefined && organizations.items.length === 0 ? <p>No organizations yet.</p> : null}
      {organizations.items.length > 0 ? (
        <ScrollRegion label="Organizations">
          <table class="list">
            <caption class="visually-hidden">Organizations</caption>
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">E-mail</th>
                <th scope="col">Actions</th>
              </tr>
            </thead>
            <tbody>
              {organizations.items.map((org) => (
                <OrganizationRow key={org.name} org={org} onDeleted={organizations.reload} />
              ))}
            </tbody>
          </table>
        </ScrollRegion>
      ) : null}
      <Pager page={organizations.page} hasMore={organizations.hasMore} onPage={organizations.goTo} label="Pages of organizations" />
    </>
  );
}
