import { useEffect, useState } from 'preact/hooks';
import { api, errorText } from '../api.js';
import { formatQuayDate } from '../format.js';
import { describeLog, performerName } from '../log-words.js';
import type { LogEntry, LogPage } from '../types.js';
import { ErrorNote } from './ErrorNote.js';
import { describeRange, LogDateRange, NO_RANGE, rangeQuery, withQuery, type DateRange } from './LogDateRange.js';

/**
 * A usage log (GET <path>: a repository's, an organization's): the last seven days or the chosen dates,
 * newest first, 20 entries a page; "Show older entries" follows the server's next_page cursor and appends.
 */
export function UsageLog({ path, label }: { path: string; label: string }) {
  const [entries, setEntries] = useState<LogEntry[]>([]);
  const [next, setNext] = useState<string | undefined>(undefined);
  const [loading, setLoading] = useState(true);
  const [error, setError] = useState<string | null>(null);
  const [range, setRange] = useState<DateRange>(NO_RANGE);
  const ranged = withQuery(path, rangeQuery(range));

  const load = async (cursor: string | undefined) => {
    setLoading(true);
    setError(null);
    try {
      const page = await api<LogPage>('GET', cursor === undefined ? ranged : withQuery(ranged, `next_page=${encodeURIComponent(cursor)}`));
      setEntries((previous) => (cursor === undefined ? page.logs : [...previous, ...page.logs]));
      setNext(page.next_page);
    } catch (failure) {
      // A refused range leaves nothing listed: old entries under new dates would mislead.
      if (cursor === undefined) setEntries([]);
      setNext(undefined);
      setError(errorText(failure));
    } finally {
      setLoading(false);
    }
  };
  useEffect(() => {
    void load(undefined);
  }, [ranged]);

  return (
    <section aria-labelledby="usage-log-heading">
      <div class="page-head">
        <h2 id="usage-log-heading">Usage log</h2>
        <button type="button" onClick={() => load(undefined)} disabled={loading}>
          Refresh
        </button>
      </div>
      <LogDateRange id="usage-log" range={range} onChange={setRange} />
      <p class="muted">{describeRange(range)}, newest first.</p>
      <ErrorNote error={error} />
      {!loading && error === null && entries.length === 0 ? <p>Nothing happened in these days.</p> : null}
      {entries.length > 0 ? (
        <div class="scroll">
          <table class="list">
            <caption class="visually-hidden">{label}</caption>
            <thead>
              <tr>
                <th scope="col">When</th>
                <th scope="col">What</th>
                <th scope="col">Who</th>
                <th scope="col">From</th>
              </tr>
            </thead>
            <tbody>
              {entries.map((entry, index) => (
                <tr key={`${entry.datetime}-${index}`}>
                  <td>{formatQuayDate(entry.datetime)}</td>
                  <td>{describeLog(entry)}</td>
                  <td>{performerName(entry)}</td>
                  <td>{entry.ip ?? '—'}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : null}
      {next !== undefined ? (
        <button type="button" onClick={() => load(next)} disabled={loading}>
          Show older entries
        </button>
      ) : null}
      {loading ? <p aria-live="polite">Loading…</p> : null}
    </section>
  );
}
