/**
 * Repository names and tags, per the OCI distribution spec's grammar. The problem messages are
 * shown to clients as the OCI error detail, so they say what is wrong, not only that it is.
 */

/** Longest repository name accepted (distribution and Quay use the same limit). */
export const MAX_NAME_LENGTH = 255;

/** Longest tag accepted, from the spec's tag grammar. */
export const MAX_TAG_LENGTH = 128;

const COMPONENT_RE = /^[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*$/;
const TAG_RE = /^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}$/;
// C0 controls, DEL and C1 controls.
const CONTROL_RE = /[\u0000-\u001f\u007f-\u009f]/;

/** undefined when the repository name is valid, else a human message saying what is wrong. */
export function repositoryNameProblem(name: string): string | undefined {
  if (typeof name !== 'string') return 'repository name must be a string';
  if (name.length === 0) return 'repository name is empty';
  if (name.length > MAX_NAME_LENGTH) {
    return `repository name is ${name.length} characters long; the maximum is ${MAX_NAME_LENGTH}`;
  }
  if (CONTROL_RE.test(name)) return 'repository name contains a control character';
  if (name.startsWith('/')) return 'repository name must not start with "/"';
  if (name.endsWith('/')) return 'repository name must not end with "/"';
  const components = name.split('/');
  for (const [index, component] of components.entries()) {
    const where = `path component ${index + 1} (${JSON.stringify(component)})`;
    if (component.length === 0) return 'repository name contains an empty path component ("//")';
    if (component.includes('..')) return `${where} contains ".."`;
    if (/[A-Z]/.test(component)) return `${where} contains upper-case letters; repository names are lower case`;
    if (!COMPONENT_RE.test(component)) {
      if (/[^a-z0-9._-]/.test(component)) {
        return `${where} contains characters other than a-z, 0-9, ".", "_" and "-"`;
      }
      return `${where} must start and end with a letter or digit, and use only ".", "_", "__" or dashes between them`;
    }
  }
  return undefined;
}

/** True when the tag matches [a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}. */
export function isValidTag(tag: string): boolean {
  return typeof tag === 'string' && TAG_RE.test(tag);
}
