import { api } from '../../api.js';
import { useState } from 'preact/hooks';
import { ErrorNote } from '../../components/ErrorNote.js';
import { describeRange, LogDateRange, NO_RANGE, rangeQuery, withQuery, type DateRange } from '../../components/LogDateRange.js';
import { Pager } from '../../components/Pager.js';
import { ScrollRegion } from '../../components/ScrollRegion.js';
import { useCursorPages } from '../../components/useCursorPages.js';
import { formatQuayDate } from '../../format.js';
import type { AuditPage } from '../../superuser-types.js';

function logsPath(query: string, cursor: string | undefined): string {
  const path = withQuery('/superuser/logs', query);
  return cursor === undefined ? path : withQuery(path, `next_page=${encodeURIComponent(cursor)}`);
}

/** The whole usage log of the registry (every namespace), newest first, the last seven days or the chosen dates. */
export function SuperuserLogs() {
  const [range, setRange] = useState<DateRange>(NO_RANGE);
  const query = rangeQuery(range);
  return (
    <>
      <h2>Usage log</h2>
      <LogDateRange id="superuser-log" range={range} onChange={setRange} />
      <p class="muted">Everything that happened in every namespace. {describeRange(range)}, newest first.</p>
      {/* A new range starts again at its first page (the cursors of another range mean nothing). */}
      <LogPages key={query} query={query} />
    </>
  );
}

/** The pages of one range, 20 a page. */
function LogPages({ query }: { query: string }) {
  const logs = useCursorPages(async (cursor) => {
    const page = await api<AuditPage>('GET', logsPath(query, cursor));
    return { items: page.logs, next: page.next_page };
  });
  return (
    <>
      <ErrorNote error={logs.error} />
      {logs.loading && logs.value === undefined ? <p aria-live="polite">Loading…</p> : null}
      {logs.value !== undefined && logs.items.length === 0 ? <p>Nothing was logged in these days.</p> : null}
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
