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
  /**
   * Certificate files the rejected sources name (absolute paths, readable or not), so that a watch notices
   * when the missing or broken file is put right.
   */
  readonly files: readonly string[];

  constructor(issues: readonly LbIssue[], files: readonly string[] = []) {
    super(issues.map(formatIssue).join('\n'));
    this.name = 'LbConfigError';
    this.issues = issues;
    this.files = files;
  }
}

