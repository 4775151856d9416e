import { useState } from 'preact/hooks';
import { api, ApiError, errorText } from '../../api.js';
import { ErrorNote } from '../../components/ErrorNote.js';
import { ScrollRegion } from '../../components/ScrollRegion.js';
import { useLoad } from '../../components/useLoad.js';
import { formatQuayDate } from '../../format.js';
import type { HealthReport, ServiceKey, StorageLocation, StorageValidation } from '../../superuser-types.js';
import { FleetInstances } from './Instances.js';

/** GET /health/<which>: its JSON body whether healthy (200) or not (503); anything else is an error. */
async function health(which: 'instance' | 'endtoend'): Promise<HealthReport> {
  let response: Response;
  try {
    response = await fetch(`/health/${which}`, { headers: { accept: 'application/json' }, cache: 'no-store' });
  } catch {
    throw new ApiError(0, 'The server cannot be reached. Check your connection and try again.');
  }
  if (response.status !== 200 && response.status !== 503) throw new ApiError(response.status, `The health check answered HTTP ${response.status}.`);
  return (await response.json()) as HealthReport;
}

function HealthTable({ title, which }: { title: string; which: 'instance' | 'endtoend' }) {
  const report = useLoad(() => health(which), [which]);
  const services = Object.entries(report.value?.data.services ?? {});
  const healthy = report.value?.status_code === 200;
  return (
    <div>
      <h3>
        {title}:{' '}
        {report.value === undefined ? '…' : <span class={healthy ? 'badge public' : 'badge failed'}>{healthy ? 'healthy' : 'unhealthy'}</span>}
      </h3>
      <ErrorNote error={report.error} />
      {services.length > 0 ? (
        <table class="list">
          <caption class="visually-hidden">{title}</caption>
          <thead>
            <tr>
              <th scope="col">Service</th>
              <th scope="col">State</th>
            </tr>
          </thead>
          <tbody>
            {services.map(([name, up]) => (
              <tr key={name}>
                <th scope="row">{name}</th>
                <td>{up ? 'up' : 'DOWN'}</td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : null}
      <button type="button" onClick={report.reload} disabled={report.loading}>
        Check {title.toLowerCase()} again
      </button>
    </div>
  );
}

/** The storage locations, and Quay's `_verify` check of every one of them on demand. */
function StorageSection() {
  const locations = useLoad(() => api<{ locations: StorageLocation[] }>('GET', '/superuser/storage'), []);
  const [result, setResult] = useState<StorageValidation | null>(null);
  const [running, setRunning] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const validate = async () => {
    setRunning(true);
    setError(null);
    setResult(null);
    try {
      setResult(await api<StorageValidation>('POST', '/superuser/config/validate/registry-storage', {}));
    } catch (failure) {
      setError(errorText(failure));
    } finally {
      setRunning(false);
    }
  };
  const verdict = (name: string) => result?.locations.find((check) => check.name === name);
  const list = locations.value?.locations ?? [];
  return (
    <section aria-labelledby="storage-heading">
      <h2 id="storage-heading">Storage locations</h2>
      <p class="muted">
        Validate writes a small marker file (<code>_verify</code>) in every location and reads it back, as <code>quayside storage validate</code> does.
      </p>
      <ErrorNote error={locations.error} />
      {locations.value !== undefined && list.length === 0 ? <p>This server knows no storage location.</p> : null}
      {list.length > 0 ? (
        <ScrollRegion label="Table of storage locations">
          <table class="list">
            <caption class="visually-hidden">Storage locations</caption>
            <thead>
              <tr>
                <th scope="col">Location</th>
                <th scope="col">Driver</th>
                <th scope="col">Validation</th>
              </tr>
            </thead>
            <tbody>
              {list.map((location) => {
                const check = verdict(location.name);
                return (
                  <tr key={location.name}>
                    <th scope="row">
                      {location.name}
                      {location.preferred ? <span class="badge">preferred</span> : null}
                    </th>
                    <td>{location.driver}</td>
                    <td>{check === undefined ? '—' : check.ok ? <span class="ok">ok</span> : <span class="error">failed: {check.failure}</span>}</td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </ScrollRegion>
      ) : null}
      {list.length > 0 ? (
        <button type="button" class="primary" onClick={validate} disabled={running}>
          {running ? 'Validating…' : 'Validate storage'}
        </button>
      ) : null}
      <p role="status" class={result?.status === false ? 'error' : 'status'}>
        {result === null ? '' : result.status ? 'Every storage location passed.' : `Validation failed: ${result.reason ?? 'a location failed'}`}
      </p>
      <ErrorNote error={error} />
    </section>
  );
}

function ServiceKeys() {
  const keys = useLoad(() => api<{ keys: ServiceKey[] }>('GET', '/superuser/keys'), []);
  const list = keys.value?.keys ?? [];
  return (
    <section aria-labelledby="keys-heading">
      <h2 id="keys-heading">Service keys</h2>
      <p class="muted">The public halves of the keys each instance signs registry tokens with; every instance accepts them all.</p>
      <ErrorNote error={keys.error} />
      {keys.value !== undefined && list.length === 0 ? <p>No active service key.</p> : null}
      {list.length > 0 ? (
        <ScrollRegion label="Table of service keys">
          <table class="list">
            <caption class="visually-hidden">Service keys</caption>
            <thead>
              <tr>
                <th scope="col">Key id</th>
                <th scope="col">Instance</th>
                <th scope="col">Created</th>
                <th scope="col">Expires</th>
              </tr>
            </thead>
            <tbody>
              {list.map((key) => (
                <tr key={key.kid}>
                  <th scope="row">
                    <code class="kid">{key.kid}</code>
                  </th>
                  <td>{key.metadata.created_by ?? '—'}</td>
                  <td>{formatQuayDate(key.created_date)}</td>
                  <td>{formatQuayDate(key.expiration_date)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </ScrollRegion>
      ) : null}
    </section>
  );
}

/** Every instance's last reported health, this instance's own, its storage locations with the validate button, and the service keys. */
export function SuperuserStatus() {
  return (
    <>
      <FleetInstances />
      <section aria-labelledby="health-heading">
        <h2 id="health-heading">Health of the instance that answered</h2>
        <div class="health">
          <HealthTable title="Instance" which="instance" />
          <HealthTable title="End to end" which="endtoend" />
        </div>
      </section>
      <StorageSection />
      <ServiceKeys />
    </>
  );
}
