import { durationSeconds, QUAY_TAG_EXPIRATION_OPTIONS, type Config } from '../config/schema.js';
import type { ExpiryBounds } from '../db/metadata.js';

/** What users may do about expiry and the time machine (docs/tag-expiration.md), from config.yaml. */
export interface TagExpirationSettings {
  /** FEATURE_CHANGE_TAG_EXPIRATION: tag expiries and namespace windows may be changed through the API. */
  changeable: boolean;
  /** DEFAULT_TAG_EXPIRATION in seconds: the window of a namespace that chose none. */
  defaultS: number;
  /** TAG_EXPIRATION_OPTIONS in seconds, in the configured order: the windows a namespace may choose. */
  optionsS: number[];
  /** The same, as written in the configuration ("2w"), for messages. */
  optionNames: string[];
  /** LABELED_EXPIRATION_MINIMUM and _MAXIMUM: an expiry set through the API is clamped to this after the tag's start. */
  bounds: ExpiryBounds;
}

/** The settings of a configuration (the schema has checked every duration's form). */
export function tagExpirationFrom(config: Pick<Config, 'FEATURE_CHANGE_TAG_EXPIRATION' | 'DEFAULT_TAG_EXPIRATION' | 'TAG_EXPIRATION_OPTIONS' | 'LABELED_EXPIRATION_MINIMUM' | 'LABELED_EXPIRATION_MAXIMUM'>): TagExpirationSettings {
  const names = config.TAG_EXPIRATION_OPTIONS ?? [...QUAY_TAG_EXPIRATION_OPTIONS];
  // Without an explicit list the default window is always a choice (Quay's validator demands it of a list).
  if (!names.includes(config.DEFAULT_TAG_EXPIRATION)) names.push(config.DEFAULT_TAG_EXPIRATION);
  return {
    changeable: config.FEATURE_CHANGE_TAG_EXPIRATION,
    defaultS: durationSeconds(config.DEFAULT_TAG_EXPIRATION),
    optionsS: names.map(durationSeconds),
    optionNames: names,
    bounds: { minMs: durationSeconds(config.LABELED_EXPIRATION_MINIMUM) * 1000, maxMs: durationSeconds(config.LABELED_EXPIRATION_MAXIMUM) * 1000 },
  };
}

/** Quay's defaults: changeable, a two-week window, windows of 0s, 1d, 1w, 2w or 4w, expiries 1h to 104w ahead. */
export const DEFAULT_TAG_EXPIRATION_SETTINGS: TagExpirationSettings = tagExpirationFrom({
  FEATURE_CHANGE_TAG_EXPIRATION: true,
  DEFAULT_TAG_EXPIRATION: '2w',
  TAG_EXPIRATION_OPTIONS: undefined,
  LABELED_EXPIRATION_MINIMUM: '1h',
  LABELED_EXPIRATION_MAXIMUM: '104w',
});

/** A window in seconds as a namespace would choose it: "2w" when it is one of the options' names, else "<n>s". */
export function windowName(settings: TagExpirationSettings, seconds: number): string {
  const index = settings.optionsS.indexOf(seconds);
  return index >= 0 ? settings.optionNames[index]! : `${seconds}s`;
}
