/** An API error shown in words where it happened; announced to screen readers as it appears. */
export function ErrorNote({ error }: { error: string | null }) {
  if (error === null) return null;
  return (
    <p class="error" role="alert">
      {error}
    </p>
  );
}
