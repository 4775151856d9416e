import type { AuditLog } from '../audit/audit-log.js';
import type { AccountMetadata, AccountRecord } from '../db/account-metadata.js';
import type { Identity, RobotIdentity, UserIdentity } from './identity.js';
import { performerOf } from './identity.js';
import { MAX_ACCOUNT_NAME_LENGTH, parseRobotName } from './names.js';
import { MAX_PASSWORD_LENGTH, verifyNothing, verifyPassword } from './passwords.js';
import { constantTimeEqual, hashSecret } from './secrets.js';
import type { Authenticator, LoginResult } from './services.js';
import { accountKey, addressKey, type LoginThrottle } from './throttle.js';
import { isSuperuser } from './options.js';
import { VerifiedSecrets } from './verified-secrets.js';

/** Where the authenticator reports throttled logins. */
export interface AuthenticatorLog {
  warn(details: Record<string, unknown>, message: string): void;
}

export interface AuthenticatorOptions {
  superUsers: ReadonlySet<string>;
  /** FEATURE_SUPER_USERS; when false, no one is a superuser, whatever the database says (default true). */
  superUsersEnabled?: boolean;
  appSpecificTokens: boolean;
  now?: () => number;
}

/** An attempt's answer, and the outcome to audit when it succeeded (every request that shares it audits it). */
interface Verdict {
  result: LoginResult;
  success?: Extract<Outcome, { ok: true }>;
}

/** How a check may verify a password: with bcrypt, or only from the secrets already verified (no bcrypt). */
type PasswordCheck = 'bcrypt' | 'known-only';
/** A login (audited as one) or the confirmation of a password before a change (audited by the change). */
type AttemptPurpose = 'login' | 'confirm';
/** What a check accepts as the secret: a password or a token (a login), or only the user's password. */
type AcceptedSecrets = 'any' | 'password-only';

/** The user name with which Basic credentials carry an app-specific token alone. */
export const APP_TOKEN_USERNAME = '$app';

const INVALID_MESSAGE = 'invalid username or password';
const DISABLED_MESSAGE = 'this account is disabled';
/** Longest user name kept in audit metadata (clients may send anything). */
const MAX_LOGGED_NAME = 255;

type LoginType = 'password' | 'app_token' | 'robot';

/** What a credential check found: an identity, or a failure with the account when one was named. */
type Outcome =
  | { ok: true; identity: Identity; type: LoginType; namespace: string; extra?: Record<string, unknown> }
  | { ok: false; reason: 'invalid' | 'disabled'; namespace: string | null };

/**
 * Checks credentials (password, app-specific token, robot token) under login throttling, and writes one
 * login_success or login_failure audit row per attempt. Unknown users and wrong passwords get the same
 * answer after about the same time.
 */
export class AuthenticatorService implements Authenticator {
  private readonly now: () => number;
  private readonly verified: VerifiedSecrets;
  /** Attempts in progress, by flightKey(): identical ones arriving meanwhile share the first one's verdict. */
  private readonly inFlight = new Map<string, Promise<Verdict>>();

  constructor(
    private readonly accounts: AccountMetadata,
    private readonly throttle: LoginThrottle,
    private readonly audit: AuditLog,
    private readonly log: AuthenticatorLog,
    private readonly options: AuthenticatorOptions,
  ) {
    this.now = options.now ?? Date.now;
    this.verified = new VerifiedSecrets(undefined, undefined, this.now);
  }

  async login(username: string, secret: string, clientAddress: string): Promise<LoginResult> {
    // $app logins are throttled per address only: one shared "account" key would let anyone lock out everyone.
    const account = username === APP_TOKEN_USERNAME ? undefined : accountKey(username);
    return this.attempt(username, clientAddress, account, secret, (mode) => this.check(username, secret, mode));
  }

  async loginWithAppToken(token: string, clientAddress: string): Promise<LoginResult> {
    return this.attempt(APP_TOKEN_USERNAME, clientAddress, undefined, token, () => this.checkAppToken(token, undefined));
  }

  async confirmPassword(username: string, password: string, clientAddress: string): Promise<LoginResult> {
    // A confirmation is a login attempt in all but its audit row: a wrong password counts against the account
    // and the address like any other guess, so a stolen session cannot be used to guess the password.
    const account = accountKey(username);
    return this.attempt(username, clientAddress, account, password, (mode) => this.check(username, password, mode, 'password-only'), 'confirm');
  }

  private async attempt(
    username: string,
    clientAddress: string,
    account: string | undefined,
    secret: string,
    check: (mode: PasswordCheck) => Promise<Outcome | undefined>,
    purpose: AttemptPurpose = 'login',
  ): Promise<LoginResult> {
    const loggedName = username.slice(0, MAX_LOGGED_NAME);
    // A burst of the same credentials from one client (docker pulling many layers, a CI fleet starting at
    // once) is checked once: each copy would otherwise take a throttle reservation and a bcrypt check, and
    // more copies than the throttle's free attempts would be refused although none is a guess.
    // A confirmation never shares a verdict with a login: a login may be right by an app token.
    const key = this.verified.flightKey(`${purpose}\0${username}`, secret, clientAddress);
    let flight = this.inFlight.get(key);
    if (flight === undefined) {
      flight = this.decide(username, clientAddress, account, loggedName, check, purpose).finally(() => this.inFlight.delete(key));
      this.inFlight.set(key, flight);
    }
    const verdict = await flight;
    if (verdict.success !== undefined && purpose === 'login') this.recordSuccess(verdict.success, clientAddress, loggedName);
    return verdict.result;
  }

  private async decide(
    username: string,
    clientAddress: string,
    account: string | undefined,
    loggedName: string,
    check: (mode: PasswordCheck) => Promise<Outcome | undefined>,
    purpose: AttemptPurpose,
  ): Promise<Verdict> {
    // A secret that is right without a bcrypt check (a robot or app token, a password this process has seen
    // verify) is no guess: it takes no throttle reservation, so neither the database writes of one nor the
    // limit on parallel attempts (a CI fleet logging in as one robot at once is not an attack). Anything
    // else, including a cheap secret that turns out wrong, goes through the throttle below.
    const known = await check('known-only');
    if (known?.ok === true) return { result: { ok: true, identity: known.identity }, success: known };
    const keys = account === undefined ? [addressKey(clientAddress)] : [account, addressKey(clientAddress)];
    const gate = await this.throttle.reserve(keys);
    if (!gate.allowed) {
      this.log.warn({ username: loggedName, clientAddress, retryAfterS: gate.retryAfterS }, 'login throttled after repeated failures');
      if (purpose === 'login') this.recordFailure(loggedName, 'throttled', null, clientAddress);
      return {
        result: {
          ok: false,
          reason: 'throttled',
          message: `too many failed login attempts; retry in ${gate.retryAfterS} seconds`,
          retryAfterS: gate.retryAfterS,
        },
      };
    }
    let outcome: Outcome;
    try {
      // The bcrypt mode always decides.
      outcome = (await check('bcrypt')) as Outcome;
    } catch (error) {
      // A failure of ours (the database) is no guess by the client.
      await this.throttle.release(gate.reservation).catch(() => undefined);
      throw error;
    }
    if (!outcome.ok) {
      // The reservation already counted a wrong secret as a failure. A disabled account that gave the right
      // secret is not guessing: its attempt is given back.
      if (outcome.reason !== 'invalid') await this.throttle.release(gate.reservation);
      if (purpose === 'login') this.recordFailure(loggedName, outcome.reason, outcome.namespace, clientAddress);
      return { result: { ok: false, reason: outcome.reason, message: outcome.reason === 'disabled' ? DISABLED_MESSAGE : INVALID_MESSAGE } };
    }
    await this.throttle.succeed(gate.reservation, account);
    return { result: { ok: true, identity: outcome.identity }, success: outcome };
  }

  private recordSuccess(outcome: Extract<Outcome, { ok: true }>, clientAddress: string, loggedName: string): void {
    this.audit.record({
      kind: 'login_success',
      performer: performerOf(outcome.identity),
      namespace: outcome.namespace,
      repository: null,
      clientAddress,
      metadata: { type: outcome.type, username: loggedName, ...outcome.extra },
    });
  }

  private recordFailure(username: string, reason: string, namespace: string | null, clientAddress: string): void {
    this.audit.record({
      kind: 'login_failure',
      performer: null,
      namespace,
      repository: null,
      clientAddress,
      metadata: { username, reason },
    });
  }

  /** The credentials' outcome; undefined when `mode` is known-only and only a bcrypt check could tell. */
  private async check(username: string, secret: string, mode: PasswordCheck, accepted: AcceptedSecrets = 'any'): Promise<Outcome | undefined> {
    const invalid: Outcome = { ok: false, reason: 'invalid', namespace: null };
    if (typeof secret !== 'string' || secret.length === 0 || secret.length > MAX_PASSWORD_LENGTH) return invalid;
    const passwordOnly = accepted === 'password-only';
    if (username === APP_TOKEN_USERNAME) return passwordOnly ? invalid : this.checkAppToken(secret, undefined);
    if (username.length === 0 || username.length > MAX_ACCOUNT_NAME_LENGTH) return invalid;
    if (username.includes('+')) return passwordOnly ? invalid : this.checkRobot(username, secret);

    const user = await this.accounts.accounts.getAccount(username);
    if (user === undefined || user.kind !== 'user') {
      if (mode === 'known-only') return undefined;
      // Organizations (and unknown names) cannot log in; spend a password check's time all the same.
      await verifyNothing(secret);
      return { ok: false, reason: 'invalid', namespace: user?.name ?? null };
    }
    // Docker clients may send an app-specific token as the password of the user's own name.
    if (this.options.appSpecificTokens && !passwordOnly) {
      const viaToken = await this.checkAppToken(secret, user);
      if (viaToken.ok) return viaToken;
    }
    const secrets = await this.accounts.accounts.getSecrets(user.id);
    const hash = secrets?.passwordHash ?? null;
    if (mode === 'known-only' && (hash === null || !this.verified.has(hash, secret))) return undefined;
    const matches = hash === null ? await verifyNothing(secret) : this.verified.has(hash, secret) || (await verifyPassword(secret, hash));
    if (matches && hash !== null) this.verified.remember(hash, secret);
    if (!matches) return { ok: false, reason: 'invalid', namespace: user.name };
    if (!user.enabled) return { ok: false, reason: 'disabled', namespace: user.name };
    return { ok: true, identity: this.userIdentity(user), type: 'password', namespace: user.name };
  }

  /** An app-specific token, of `expected` when given (a user's own name), else of whoever owns it. */
  private async checkAppToken(token: string, expected: AccountRecord | undefined): Promise<Outcome> {
    const invalid: Outcome = { ok: false, reason: 'invalid', namespace: expected?.name ?? null };
    if (!this.options.appSpecificTokens || token.length === 0 || token.length > MAX_PASSWORD_LENGTH) return invalid;
    const found = await this.accounts.appTokens.findByHash(hashSecret(token));
    if (found === undefined || found.account.kind !== 'user') return invalid;
    if (expected !== undefined && found.account.id !== expected.id) return invalid;
    if (found.token.expiresAt !== null && found.token.expiresAt.getTime() <= this.now()) return invalid;
    if (!found.account.enabled) return { ok: false, reason: 'disabled', namespace: found.account.name };
    // Recording the use is best effort: a failed update must not fail the login.
    this.accounts.appTokens.touch(found.token.id).catch(() => undefined);
    return {
      ok: true,
      identity: { ...this.userIdentity(found.account), appTokenId: found.token.id },
      type: 'app_token',
      namespace: found.account.name,
      extra: { appTokenId: found.token.id, appTokenTitle: found.token.title },
    };
  }

  private async checkRobot(name: string, token: string): Promise<Outcome> {
    const parsed = parseRobotName(name);
    if (parsed === undefined) return { ok: false, reason: 'invalid', namespace: null };
    const robot = await this.accounts.accounts.getAccount(name);
    if (robot === undefined || robot.kind !== 'robot' || robot.ownerId === null) {
      return { ok: false, reason: 'invalid', namespace: robot === undefined ? null : parsed.owner };
    }
    const secrets = await this.accounts.accounts.getSecrets(robot.id);
    const stored = secrets?.tokenHash ?? null;
    if (stored === null || !constantTimeEqual(hashSecret(token), stored)) {
      return { ok: false, reason: 'invalid', namespace: parsed.owner };
    }
    if (!robot.enabled) return { ok: false, reason: 'disabled', namespace: parsed.owner };
    const identity: RobotIdentity = { kind: 'robot', id: robot.id, name: robot.name, ownerId: robot.ownerId, ownerName: parsed.owner };
    return { ok: true, identity, type: 'robot', namespace: parsed.owner, extra: { robot: robot.name } };
  }

  private userIdentity(user: AccountRecord): UserIdentity {
    return { kind: 'user', id: user.id, name: user.name, superuser: isSuperuser(this.options, user) };
  }
}
