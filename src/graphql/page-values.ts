import {
  type FieldNode,
  type FragmentDefinitionNode,
  GraphQLIncludeDirective,
  type GraphQLResolveInfo,
  GraphQLSkipDirective,
  getDirectiveValues,
  Kind,
  type SelectionNode,
} from "graphql";
import type { TaskRunRow } from "../db/rows.js";
import type { ResultRow } from "../results/result-store.js";
import type { GraphQLContext } from "./context.js";
import { loadedCurrentState } from "./mappers.js";

// A page of task runs whose values are kept outside the database reads them before GraphQL
// completes its task runs. Read from each `value` field instead, a page's reads start only once
// its 100 task runs are built, and wait there for the file worker or the store, behind every
// other request: under load what the page holds outlives V8's young generation, and copying and
// promoting it cost more than the reads (BENCHMARKS.md, "V8's young generation"). Only values
// the query selects are read, and each field gives what its own read gave: its value, or its
// error, at its own path.

/** What one read came to. */
type Outcome = { ok: true; value: unknown } | { ok: false; error: unknown };

/** A read ahead: under way, or with its outcome once it has one. */
interface ReadAhead {
  done: Promise<Outcome>;
  outcome?: Outcome;
}

/**
 * Reads ahead, by the result row whose `value` field they are for; each is taken by one field.
 * Pages that share rows (a flow run asked for under two aliases) read a row ahead once: the
 * other fields read theirs as they resolve, as each field does without reading ahead.
 */
const readsAhead = new WeakMap<ResultRow, ReadAhead>();

/** Whether a selection is left out by @skip or @include. */
function leftOut(node: SelectionNode, variables: GraphQLResolveInfo["variableValues"]): boolean {
  return (
    getDirectiveValues(GraphQLSkipDirective, node, variables)?.if === true ||
    getDirectiveValues(GraphQLIncludeDirective, node, variables)?.if === false
  );
}

/**
 * The fields named `name` that `fields` select, through fragments and their spreads, without
 * those @skip or @include leave out. Type conditions are not looked at: below a task run, a field
 * of a name is the same field whichever fragment selects it.
 */
function selected(
  fields: readonly FieldNode[],
  name: string,
  info: Pick<GraphQLResolveInfo, "fragments" | "variableValues">,
): FieldNode[] {
  const found: FieldNode[] = [];
  const visit = (selections: readonly SelectionNode[]) => {
    for (const selection of selections) {
      if (leftOut(selection, info.variableValues)) continue;
      if (selection.kind === Kind.FIELD) {
        if (selection.name.value === name) found.push(selection);
      } else if (selection.kind === Kind.INLINE_FRAGMENT) {
        visit(selection.selectionSet.selections);
      } else {
        const fragment: FragmentDefinitionNode | undefined = info.fragments[selection.name.value];
        if (fragment) visit(fragment.selectionSet.selections);
      }
    }
  };
  for (const field of fields) if (field.selectionSet) visit(field.selectionSet.selections);
  return found;
}

/** Whether a task-run connection's selection asks for its task runs' values. */
export function selectsValues(info: GraphQLResolveInfo): boolean {
  const taskRuns = [
    ...selected(info.fieldNodes, "nodes", info),
    ...selected(selected(info.fieldNodes, "edges", info), "node", info),
  ];
  return selected(selected(selected(taskRuns, "state", info), "result", info), "value", info).length > 0;
}

/**
 * Reads the values of `runs`' current results that are kept outside the database, together,
 * through the result store as the `value` field would, and keeps what each read came to for it.
 * Inline values are left to their field: they are read from the row at once. Gives nothing to
 * wait for when there is nothing to read.
 */
export function readValuesAhead(runs: readonly TaskRunRow[], context: GraphQLContext): Promise<unknown> | undefined {
  const { results, budget, reach, scope } = context;
  const reads: Promise<Outcome>[] = [];
  for (const run of runs) {
    // The state the `state` field gives at once (see TaskRun.state), and so the result it reads.
    const result = loadedCurrentState(run)?.loadedResult;
    if (!result?.handled || result.handlerType === "JSON" || readsAhead.has(result)) continue;
    const read = {} as ReadAhead;
    const settle = (outcome: Outcome) => {
      read.outcome = outcome;
      return outcome;
    };
    read.done = (async () => results.read(result, budget, () => reach.of(scope)))().then(
      (value) => settle({ ok: true, value }),
      (error: unknown) => settle({ ok: false, error }),
    );
    readsAhead.set(result, read);
    reads.push(read.done);
  }
  return reads.length > 0 ? Promise.all(reads) : undefined;
}

/** The value read ahead for `result`'s field, taken: at once when the read is done; none when no read was. */
export function takeReadAhead(result: ResultRow): { value: unknown } | undefined {
  const read = readsAhead.get(result);
  if (read === undefined) return undefined;
  readsAhead.delete(result);
  const give = (outcome: Outcome) => {
    if (outcome.ok) return outcome.value;
    throw outcome.error;
  };
  return { value: read.outcome ? give(read.outcome) : read.done.then(give) };
}
