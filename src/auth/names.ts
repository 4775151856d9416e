/**
 * Quay's naming rules for namespaces (users and organizations), robots and teams. The problem strings
 * are one line, shown as is by the API and the CLI.
 */

export const MIN_NAMESPACE_LENGTH = 2;
export const MAX_NAMESPACE_LENGTH = 255;

// Quay's VALID_USERNAME / VALID_TEAMNAME expression: lower-case runs joined by single '.', '_' or '-'.
const NAMESPACE_RE = /^[a-z0-9]+(?:[._-][a-z0-9]+)*$/;
// Quay's robot short-name expression.
const ROBOT_SHORT_RE = /^[a-z][a-z0-9_]{1,254}$/;

/** undefined when `name` may name a user or an organization, else why not. */
export function namespaceNameProblem(name: string): string | undefined {
  if (typeof name !== 'string') return 'name must be a string';
  if (name.includes('+')) return 'name must not contain "+" (reserved for robot accounts)';
  if (name.length < MIN_NAMESPACE_LENGTH || name.length > MAX_NAMESPACE_LENGTH) {
    return `name must be ${MIN_NAMESPACE_LENGTH} to ${MAX_NAMESPACE_LENGTH} characters long`;
  }
  if (!NAMESPACE_RE.test(name)) {
    return 'name must be lower-case letters and digits, optionally separated by single ".", "_" or "-"';
  }
  return undefined;
}

/** undefined when `short` may be the part of a robot's name after "+", else why not. */
export function robotShortNameProblem(short: string): string | undefined {
  if (typeof short !== 'string') return 'robot name must be a string';
  if (!ROBOT_SHORT_RE.test(short)) {
    return 'robot name must be 2 to 255 characters: a lower-case letter, then lower-case letters, digits or "_"';
  }
  return undefined;
}

/** "acme" + "ci" -> "acme+ci". */
export function robotFullName(owner: string, short: string): string {
  return `${owner}+${short}`;
}

/** Longest account name the database stores (a robot's full name included). */
export const MAX_ACCOUNT_NAME_LENGTH = 255;

/**
 * Splits a robot's full name; undefined unless it is one valid namespace, "+", one valid short name, and
 * at most MAX_ACCOUNT_NAME_LENGTH characters in all.
 */
export function parseRobotName(full: string): { owner: string; short: string } | undefined {
  if (typeof full !== 'string' || full.length > MAX_ACCOUNT_NAME_LENGTH) return undefined;
  const plus = full.indexOf('+');
  if (plus < 0 || plus !== full.lastIndexOf('+')) return undefined;
  const owner = full.slice(0, plus);
  const short = full.slice(plus + 1);
  if (namespaceNameProblem(owner) !== undefined || robotShortNameProblem(short) !== undefined) return undefined;
  return { owner, short };
}

/**
 * undefined when `name` may name a team, else why not. Quay's current rule (data/model/team.py) is the
 * namespace expression with 2..255 characters, so a team name is also safe in URLs and logs.
 */
export function teamNameProblem(name: string): string | undefined {
  if (typeof name !== 'string') return 'team name must be a string';
  if (name.length < MIN_NAMESPACE_LENGTH || name.length > MAX_NAMESPACE_LENGTH) {
    return `team name must be ${MIN_NAMESPACE_LENGTH} to ${MAX_NAMESPACE_LENGTH} characters long`;
  }
  if (!NAMESPACE_RE.test(name)) {
    return 'team name must be lower-case letters and digits, optionally separated by single ".", "_" or "-"';
  }
  return undefined;
}
