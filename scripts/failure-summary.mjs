// A node:test reporter that prints, after the TAP stream, one block per failed test: its file, its name
// and the first lines of its error. CI keeps only the tail of a run's output, and TAP puts a failure where
// it happened, hundreds of lines before the end; this puts every failure where the tail shows it.
const ERROR_LINES = 12;

function describe(error) {
  if (!error) return "(no error recorded)";
  // node:test wraps what a test threw in an ERR_TEST_FAILURE whose cause is the real error.
  const cause = error.cause ?? error;
  const text = cause instanceof Error ? (cause.stack ?? cause.message) : String(cause);
  return text.split("\n").slice(0, ERROR_LINES).join("\n");
}

export default async function* failureSummary(source) {
  const failures = [];
  for await (const event of source) {
    if (event.type !== "test:fail") continue;
    const { name, file, details } = event.data;
    // A suite fails when one of its tests did; the test itself is what to read.
    if (details?.error?.failureType === "subtestsFailed") continue;
    failures.push({ name, file, error: describe(details?.error) });
  }
  if (failures.length === 0) return;
  yield `\n# ${failures.length} failed:\n`;
  for (const failure of failures) {
    yield `\n# FAILED ${failure.file ?? "(unknown file)"}\n#   ${failure.name}\n`;
    yield `${failure.error.replace(/^/gm, "#     ")}\n`;
  }
}
