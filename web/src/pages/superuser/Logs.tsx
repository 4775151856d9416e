import { api } from '../../api.js';
import { ErrorNote } from '../../components/ErrorNote.js';
import { Pager } from '../../components/Pager.js';
import { ScrollRegion } from '../../components/ScrollRegion.js';
import { useCursorPages } from '../../components/useCursorPages.js';
import { formatQuayDate } from '../../format.js';
import type { AuditPage } from '../../superuser-types.js';

function logsPath(cursor: string | undefined): string {
  return cursor === undefined ? '/superuser/logs' : `/superuser/logs?next_page=${encodeURIComponent(cursor)}`;
}

/** The whole usage log of the registry (every namespace), newest first, the last seven days, 20 a page. */
export function SuperuserLogs() {
  const logs = useCursorPages(async (cursor) => {
    const page = await api<AuditPage>('GET', logsPath(cursor));
    return { items: page.logs, next: page.next_page };
  });
  return (
    <>
      <h2>Usage log</h2>
      <p class="muted">Everything that happened in every namespace in the last seven days, newest first.</p>
      <ErrorNote error={logs.error} />
      {logs.loading && logs.value === undefined ? <p aria-live="polite">Loading…</p> : null}
      {logs.value !== undefined && logs.items.length === 0 ? <p>Nothing was logged in the last seven days.</p> : null}
      {logs.items.length > 0 ? (
        <ScrollRegion label="Usage log">
          <table class="list">
            <caption class="visually-hidden">Usage log</caption>
            <thead>
              <tr>
                <th scope="col">When</th>
                <th scope="col">Action</th>
                <th scope="col">Performed by</th>
                <th scope="col">Namespace</th>
                <th scope="col">Repository</th>
                <th scope="col">Address</th>
              </tr>
            </thead>
            <tbody>
              {logs.items.map((entry, index) => (
                <tr key={`${logs.page}-${index}`}>
                  <td>{formatQuayDate(entry.datetime)}</td>
                  <td>
                    <code>{entry.kind}</code>
                  </td>
                  <td>{entry.performer === undefined ? 'anonymous' : `${entry.performer.name}${entry.performer.is_robot ? ' (robot)' : ''}`}</td>
                  <td>{entry.namespace?.name ?? '—'}</td>
                  <td>{typeof entry.metadata.repo === 'string' ? entry.metadata.repo : '—'}</td>
                  <td>{entry.ip ?? '—'}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </ScrollRegion>
      ) : null}
      <Pager page={logs.page} hasMore={logs.hasMore} onPage={logs.goTo} label="Pages of the usage log" />
    </>
  );
}
