import { useState } from 'preact/hooks';
import { ErrorNote } from './ErrorNote.js';

/** A chosen range of whole days in UTC, as the date inputs give them (YYYY-MM-DD); empty: no bound. */
export interface DateRange {
  from: string;
  to: string;
}

export const NO_RANGE: DateRange = { from: '', to: '' };

/** YYYY-MM-DD -> Quay's MM/DD/YYYY (endpoints/api/logs.py reads starttime/endtime so, in UTC). */
function quayDay(isoDay: string): string {
  const [year, month, day] = isoDay.split('-');
  return `${month}/${day}/${year}`;
}

/** The query string of a range (`starttime=...&endtime=...`), '' for none. */
export function rangeQuery(range: DateRange): string {
  const parts: string[] = [];
  if (range.from !== '') parts.push(`starttime=${encodeURIComponent(quayDay(range.from))}`);
  if (range.to !== '') parts.push(`endtime=${encodeURIComponent(quayDay(range.to))}`);
  return parts.join('&');
}

/** Appends a query to a path that may or may not have one already. */
export function withQuery(path: string, query: string): string {
  if (query === '') return path;
  return `${path}${path.includes('?') ? '&' : '?'}${query}`;
}

/** "From 2026-12-01 to 2026-12-07 (UTC)", or the server's default window when no day is chosen. */
export function describeRange(range: DateRange): string {
  if (range.from === '' && range.to === '') return 'The last seven days';
  if (range.from === '') return `The seven days up to ${range.to} (UTC)`;
  if (range.to === '') return `From ${range.from} (UTC) to now`;
  return `From ${range.from} to ${range.to} (UTC, both days included)`;
}

/**
 * The date filter of a usage log: two date inputs (whole days in UTC, as Quay's API takes them) and Show. An
 * incomplete date is explained here; a range the server refuses (an end before the start) comes back as its
 * 400 and is shown by the log under this form.
 */
export function LogDateRange({ id, range, onChange }: { id: string; range: DateRange; onChange: (range: DateRange) => void }) {
  const [from, setFrom] = useState(range.from);
  const [to, setTo] = useState(range.to);
  const [error, setError] = useState<string | null>(null);
  return (
    <>
      <form
        class="row dates"
        aria-label="Dates of the usage log"
        onSubmit={(event) => {
          event.preventDefault();
          const form = event.currentTarget;
          const bad = (['from', 'to'] as const).find((which) => (form.elements.namedItem(which) as HTMLInputElement | null)?.validity.badInput === true);
          if (bad !== undefined) {
            setError(`The ${bad === 'from' ? '"From"' : '"To"'} date is not a whole date: give its day, month and year.`);
            return;
          }
          setError(null);
          onChange({ from, to });
        }}
      >
        <span class="field">
          <label for={`${id}-from`}>From (UTC)</label>
          <input id={`${id}-from`} name="from" type="date" value={from} onInput={(e) => setFrom(e.currentTarget.value)} />
        </span>
        <span class="field">
          <label for={`${id}-to`}>To (UTC)</label>
          <input id={`${id}-to`} name="to" type="date" value={to} onInput={(e) => setTo(e.currentTarget.value)} />
        </span>
        <button type="submit">Show these dates</button>
        {range.from !== '' || range.to !== '' ? (
          <button
            type="button"
            onClick={() => {
              setFrom('');
              setTo('');
              setError(null);
              onChange(NO_RANGE);
            }}
          >
            Last seven days
          </button>
        ) : null}
      </form>
      <ErrorNote error={error} />
    </>
  );
}
