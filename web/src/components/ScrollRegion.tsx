import type { ComponentChildren } from 'preact';

/**
 * A wide table's frame: it scrolls sideways on a narrow screen instead of widening the page, and it can be
 * focused and scrolled with the arrow keys (a scrollable region nobody can reach by keyboard is an axe
 * "serious" finding). Named by `label` for screen readers.
 */
export function ScrollRegion({ label, children }: { label: string; children: ComponentChildren }) {
  return (
    <div class="scroll" role="region" aria-label={label} tabIndex={0}>
      {children}
    </div>
  );
}
