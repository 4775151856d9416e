import { shortDigest } from './format.js';
import type { LogEntry } from './types.js';

/** Usage-log entries in words, the way Quay's UI describes them. Pure, so it is easy to test and extend. */

function text(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}

/** "tag v1" / "sha256:abcdef012345" for the thing a registry event was about. */
function reference(metadata: Record<string, unknown>): string {
  const tags = Array.isArray(metadata.tags) ? metadata.tags.filter((t): t is string => typeof t === 'string') : [];
  const tag = text(metadata.tag);
  if (tag !== undefined) return `tag ${tag}`;
  if (tags.length > 0) return `${tags.length === 1 ? 'tag' : 'tags'} ${tags.join(', ')}`;
  const digest = text(metadata.manifest_digest) ?? text(metadata.digest);
  return digest !== undefined ? shortDigest(digest) : 'a manifest';
}

/** The delegate of a permission entry: a user, robot or team. */
function delegate(metadata: Record<string, unknown>): string {
  const team = text(metadata.team);
  if (team !== undefined) return `team ${team}`;
  return text(metadata.username) ?? text(metadata.robot) ?? 'someone';
}

/** One sentence saying what happened; `repo` names the repository (useful in an organization's log). */
export function describeLog(entry: LogEntry): string {
  const m = entry.metadata;
  const repo = text(m.repo);
  const inRepo = repo !== undefined ? ` in ${repo}` : '';
  switch (entry.kind) {
    case 'push_repo':
      return `Pushed ${reference(m)}${inRepo}`;
    case 'pull_repo':
      return `Pulled ${reference(m)}${inRepo}`;
    case 'create_repo':
      return `Created repository ${repo ?? ''}`.trim();
    case 'delete_repo':
      return `Deleted repository ${repo ?? ''}`.trim();
    case 'create_tag':
      return `Created tag ${text(m.tag) ?? ''}${inRepo}`;
    case 'move_tag':
      return `Moved tag ${text(m.tag) ?? ''}${inRepo} to ${shortDigest(text(m.manifest_digest) ?? '')}`;
    case 'delete_tag':
      return `Deleted tag ${text(m.tag) ?? ''}${inRepo}`;
    case 'revert_tag':
      return `Restored tag ${text(m.tag) ?? ''}${inRepo} to ${shortDigest(text(m.manifest_digest) ?? '')}`;
    case 'delete_manifest':
      return `Deleted manifest ${shortDigest(text(m.manifest_digest) ?? '')}${inRepo}`;
    case 'delete_blob':
      return `Deleted blob ${shortDigest(text(m.digest) ?? '')}${inRepo}`;
    case 'change_repo_visibility':
      return `Made ${repo ?? 'the repository'} ${text(m.visibility) ?? ''}`.trim();
    case 'set_repo_description':
      return `Changed the description of ${repo ?? 'the repository'}`;
    case 'change_repo_permission':
      return `Gave ${delegate(m)} ${text(m.role) ?? ''} on ${repo ?? 'the repository'}`;
    case 'delete_repo_permission':
      return `Removed the permission of ${delegate(m)} on ${repo ?? 'the repository'}`;
    case 'org_create':
      return `Created organization ${text(m.namespace) ?? ''}`.trim();
    case 'org_create_team':
      return `Created team ${text(m.team) ?? ''} (${text(m.role) ?? ''})`;
    case 'org_delete_team':
      return `Deleted team ${text(m.team) ?? ''}`;
    case 'org_set_team_role':
      return `Set the role of team ${text(m.team) ?? ''} to ${text(m.role) ?? ''}`;
    case 'org_add_team_member':
      return `Added ${text(m.member) ?? ''} to team ${text(m.team) ?? ''}`;
    case 'org_remove_team_member':
      return `Removed ${text(m.member) ?? ''} from team ${text(m.team) ?? ''}`;
    case 'create_robot':
      return `Created robot ${text(m.robot) ?? ''}`;
    case 'delete_robot':
      return `Deleted robot ${text(m.robot) ?? ''}`;
    case 'regenerate_robot_token':
      return `Regenerated the token of ${text(m.robot) ?? ''}`;
    case 'create_prototype_permission':
    case 'modify_prototype_permission':
    case 'delete_prototype_permission': {
      const d = typeof m.delegate === 'object' && m.delegate !== null ? (m.delegate as Record<string, unknown>) : {};
      const who = `${text(d.kind) === 'team' ? 'team ' : ''}${text(d.name) ?? ''}`;
      if (entry.kind === 'modify_prototype_permission') return `Changed the default permission of ${who} from ${text(m.original_role) ?? '?'} to ${text(m.role) ?? '?'}`;
      return entry.kind === 'create_prototype_permission'
        ? `Added the default permission ${text(m.role) ?? ''} for ${who}`
        : `Removed the default permission ${text(m.role) ?? ''} of ${who}`;
    }
    case 'login_success':
      return 'Signed in';
    case 'login_failure':
      return 'Failed to sign in';
    case 'logout_success':
      return 'Signed out';
    default:
      return entry.kind.replace(/_/g, ' ');
  }
}

/** Who did it: a user, a robot, or nobody signed in. */
export function performerName(entry: LogEntry): string {
  if (entry.performer === undefined) return 'anonymous';
  return entry.performer.is_robot ? `${entry.performer.name} (robot)` : entry.performer.name;
}
