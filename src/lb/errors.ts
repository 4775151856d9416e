/** One problem found in a load-balancer source: where (file or etcd key), which key, what is wrong. */
export interface LbIssue {
  /** File path or etcd key the value came from. */
  origin: string;
  /** Dotted key path as the user wrote it, e.g. `services.web.balance` or `services.web.environment.KONTENA_LB_MODE`. */
  path: string;
  message: string;
}

/** Format one issue as `origin: path: message` (the form every CLI and log line shows). */
export function formatIssue(issue: LbIssue): string {
  return issue.path === '' ? `${issue.origin}: ${issue.message}` : `${issue.origin}: ${issue.path}: ${issue.message}`;
}

/** A load-balancer configuration that cannot be used; carries every issue found, not only the first. */
export class LbConfigError extends Error {
  readonly issues: readonly LbIssue[];

  constructor(issues: readonly LbIssue[]) {
    super(issues.map(formatIssue).join('\n'));
    this.name = 'LbConfigError';
    this.issues = issues;
  }
}

