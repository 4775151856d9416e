import { api } from '../../api.js';
import { ErrorNote } from '../../components/ErrorNote.js';
import { ScrollRegion } from '../../components/ScrollRegion.js';
import { useLoad } from '../../components/useLoad.js';
import { formatQuayDate } from '../../format.js';
import type { FleetInstance, FleetPage, HealthSnapshot } from '../../superuser-types.js';

/** "healthy", or "unhealthy: storage, redis down", from one stored report. */
function HealthCell({ report, seen }: { report: HealthSnapshot | undefined; seen: boolean }) {
  if (report === undefined) return <span class="muted">not checked yet</span>;
  const down = Object.entries(report.services)
    .filter(([, up]) => !up)
    .map(([name]) => name);
  const healthy = report.status_code === 200;
  return (
    <>
      <span class={healthy ? 'badge public' : 'badge failed'}>{healthy ? 'healthy' : 'unhealthy'}</span>
      {down.length > 0 ? <span class="error"> {down.join(', ')} down</span> : null}
      {seen ? null : <span class="muted"> (last known)</span>}
    </>
  );
}

/** "ago" in words, from whole seconds. */
function ago(seconds: number): string {
  if (seconds < 60) return `${seconds} s ago`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min ago`;
  if (seconds < 86400) return `${Math.floor(seconds / 3600)} h ago`;
  return `${Math.floor(seconds / 86400)} days ago`;
}

function InstanceRow({ instance }: { instance: FleetInstance }) {
  return (
    <tr>
      <th scope="row">
        {instance.hostname}
        {instance.this_instance ? <span class="badge">this instance</span> : null}
        <br />
        <code class="kid">{instance.id.slice(0, 8)}</code>
      </th>
      <td>
        {instance.addresses.map((address) => (
          <code key={address} class="address">
            {address}
          </code>
        ))}
      </td>
      <td>{instance.version}</td>
      <td>{formatQuayDate(instance.started)}</td>
      <td>
        {instance.seen ? (
          <span class="ok">seen {ago(instance.seen_seconds_ago)}</span>
        ) : (
          <span class="error">not seen since {formatQuayDate(instance.last_seen)}</span>
        )}
      </td>
      <td>
        <HealthCell report={instance.health?.instance} seen={instance.seen} />
      </td>
      <td>
        <HealthCell report={instance.health?.endtoend} seen={instance.seen} />
      </td>
    </tr>
  );
}

/**
 * Every instance of the fleet (GET /superuser/instances, the registry their heartbeats write): where it
 * listens, when it started, when it was last seen, and the health it last reported.
 */
export function FleetInstances() {
  const fleet = useLoad(() => api<FleetPage>('GET', '/superuser/instances'), []);
  const list = fleet.value?.instances ?? [];
  const bound = fleet.value?.not_seen_after_seconds;
  return (
    <section aria-labelledby="instances-heading">
      <h2 id="instances-heading">Instances</h2>
      <p class="muted">
        Every <code>quayside serve</code> sharing this database writes its health here every few seconds
        {bound === null || bound === undefined ? '' : `; one silent for more than ${bound} s is shown as not seen`}.
      </p>
      <ErrorNote error={fleet.error} />
      {fleet.value !== undefined && list.length === 0 ? <p>No instance has reported yet.</p> : null}
      {list.length > 0 ? (
        <ScrollRegion label="Table of instances">
          <table class="list">
            <caption class="visually-hidden">Instances</caption>
            <thead>
              <tr>
                <th scope="col">Instance</th>
                <th scope="col">Listens on</th>
                <th scope="col">Version</th>
                <th scope="col">Started</th>
                <th scope="col">Last seen</th>
                <th scope="col">Instance health</th>
                <th scope="col">End to end</th>
              </tr>
            </thead>
            <tbody>
              {list.map((instance) => (
                <InstanceRow key={instance.id} instance={instance} />
              ))}
            </tbody>
          </table>
        </ScrollRegion>
      ) : null}
      <button type="button" onClick={fleet.reload} disabled={fleet.loading}>
        Check instances again
      </button>
    </section>
  );
}
