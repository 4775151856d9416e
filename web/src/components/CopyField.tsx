import { useState } from 'preact/hooks';

/**
 * A read-only text with a Copy button (a pull command, a token shown once). The clipboard API needs a secure
 * context; elsewhere the text is selected so that Ctrl+C copies it.
 */
export function CopyField({ label, value }: { label: string; value: string }) {
  const [state, setState] = useState<'idle' | 'copied' | 'select'>('idle');
  let input: HTMLInputElement | null = null;
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(value);
      setState('copied');
    } catch {
      input?.select();
      setState('select');
    }
  };
  return (
    <span class="copy-field">
      <input
        ref={(element) => {
          input = element;
        }}
        aria-label={label}
        readOnly
        value={value}
        onFocus={(event) => event.currentTarget.select()}
      />
      <button type="button" onClick={copy} aria-label={`Copy ${label}`}>
        {state === 'copied' ? 'Copied' : 'Copy'}
      </button>
      <span class="visually-hidden" aria-live="polite">
        {state === 'copied' ? 'Copied to the clipboard' : state === 'select' ? 'Selected: press Ctrl+C to copy' : ''}
      </span>
    </span>
  );
}
