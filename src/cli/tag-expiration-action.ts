import type { AccountKind } from '../db/account-metadata.js';
import { tagExpirationFrom, windowName } from '../gc/tag-expiration.js';
import { check, requireAccount, type ActionInput, type AdminAction } from './admin-command.js';
import { CliError } from './cli-error.js';

/**
 * `quayside user|org tag-expiration NAME WINDOW`: the namespace's time machine window (Quay's
 * removed_tag_expiration_s), one of TAG_EXPIRATION_OPTIONS, or `default` for DEFAULT_TAG_EXPIRATION.
 * An administrator's command: FEATURE_CHANGE_TAG_EXPIRATION, which gates the API, does not apply.
 */
export function tagExpirationAction(command: 'user' | 'org', kind: AccountKind): AdminAction {
  return {
    args: ['NAME', 'WINDOW'],
    synopsis: 'NAME WINDOW',
    summary: `set how long deleted, moved or expired tags of the ${kind === 'user' ? "user's" : "organization's"} repositories can be restored: one of TAG_EXPIRATION_OPTIONS (e.g. 1w) or "default" (DEFAULT_TAG_EXPIRATION)`,
    run: (input) => setWindow(input, command, kind),
  };
}

async function setWindow(input: ActionInput, command: 'user' | 'org', kind: AccountKind): Promise<void> {
  const where = `quayside ${command} tag-expiration`;
  const name = input.arg(0);
  const window = input.arg(1);
  const isDefault = window === 'default';
  check(where, isDefault || /^[0-9]+[smhdw]$/.test(window) ? undefined : `WINDOW must be a duration such as 1w, 2w, 4w or "default", got ${JSON.stringify(window.slice(0, 100))}`);
  const context = await input.context();
  const settings = tagExpirationFrom(context.config);
  const index = settings.optionNames.indexOf(window);
  if (!isDefault && index < 0) throw new CliError(`${where}: ${window} is not one of TAG_EXPIRATION_OPTIONS (${settings.optionNames.join(', ')})`);
  const account = await requireAccount(context, where, name, [kind]);
  const seconds = isDefault ? null : settings.optionsS[index]!;
  await context.accounts.accounts.setTagExpiration(account.id, seconds);
  const effective = seconds ?? settings.defaultS;
  context.record(kind === 'user' ? 'user_change_tag_expiration' : 'org_change_tag_expiration', { namespace: account.name }, { tag_expiration: effective, namespace: account.name });
  const shown = `${windowName(settings, effective)} (${effective} s)${isDefault ? ', DEFAULT_TAG_EXPIRATION' : ''}`;
  process.stdout.write(`namespace ${account.name}: time machine window ${shown}\n`);
}
