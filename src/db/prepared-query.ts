import type { Compilable, CompiledQuery, Kysely } from 'kysely';

/**
 * A query of the hot read paths built and compiled once, then run with each call's values. Building and
 * compiling a Kysely query (its node tree, frozen objects, the SQL text) cost more CPU than running the query
 * itself on SQLite: a CPU profile of blob HEADs put Kysely's builder and compiler at about a fifth of the
 * server's time. Only for queries whose shape never depends on the values (no `in` lists, no optional clauses).
 *
 * `placeholders` are values, one per argument, that the query is compiled with; each must appear exactly once
 * among the compiled parameters (checked here, so a query that folds or repeats one fails at startup, not with
 * wrong results).
 */
export function preparedQuery<DB, Row, Args extends readonly unknown[]>(
  db: Kysely<DB>,
  build: (...args: Args) => Compilable<Row>,
  placeholders: Args,
): (...args: Args) => Promise<Row[]> {
  const compiled: CompiledQuery<Row> = build(...placeholders).compile();
  const positions = placeholders.map((placeholder) => {
    const first = compiled.parameters.indexOf(placeholder);
    if (first === -1 || compiled.parameters.lastIndexOf(placeholder) !== first) {
      throw new Error(`preparedQuery: placeholder ${String(placeholder)} must appear exactly once in: ${compiled.sql}`);
    }
    return first;
  });
  return async (...args: Args): Promise<Row[]> => {
    const parameters = compiled.parameters.slice();
    for (let i = 0; i < positions.length; i += 1) parameters[positions[i] as number] = args[i];
    return (await db.executeQuery<Row>({ ...compiled, parameters })).rows;
  };
}
