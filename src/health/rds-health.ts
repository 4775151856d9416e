import type { Config } from '../config/schema.js';
import type { HealthReport } from './checks.js';
import { RDS_TRANSIENT_STATES, rdsStatusLookup, type RdsAnswer } from './rds-status.js';

/**
 * Decides /health/instance from its probes' report. The default (Quay's LocalHealthCheck) is the report's own
 * verdict; routes.ts applies a policy only to /health/instance, never to /health/endtoend.
 */
export type InstanceHealthPolicy = (report: HealthReport) => Promise<HealthReport>;

/**
 * Quay's RDSAwareHealthCheck: when the database probe fails, RDS is asked about the instance; while RDS reports a
 * state in which it makes the database unreachable itself (RDS_TRANSIENT_STATES), the database is left out of
 * the verdict so a load balancer keeps the fleet in service. Unlike Quay, which skips the database for any
 * answer but `available` (its own "error" included), an API error, a timeout or an unknown instance keep 503.
 */
export function rdsAwarePolicy(lookup: () => Promise<RdsAnswer>): InstanceHealthPolicy {
  return async (report) => {
    if (report.services.database !== false) return report;
    const answer = await lookup();
    if ('error' in answer) return { ...report, failures: { ...report.failures, rds: answer.error } };
    const note = `RDS status: ${answer.status}`;
    const others = Object.entries(report.services).filter(([name]) => name !== 'database');
    const healthy = RDS_TRANSIENT_STATES.has(answer.status) && others.every(([, up]) => up);
    return { ...report, healthy, failures: { ...report.failures, database: `${report.failures.database ?? 'failed'} (${note})` } };
  };
}

/** The /health/instance policy HEALTH_CHECKER names; undefined for LocalHealthCheck (the probes decide alone). */
export function healthCheckerFrom(config: Pick<Config, 'HEALTH_CHECKER'>): InstanceHealthPolicy | undefined {
  const [name, params] = config.HEALTH_CHECKER;
  if (name === 'LocalHealthCheck') return undefined;
  return rdsAwarePolicy(
    rdsStatusLookup({
      region: params.region,
      dbInstance: params.db_instance,
      accessKey: params.access_key,
      secretKey: params.secret_key,
      endpoint: params.endpoint,
    }),
  );
}
