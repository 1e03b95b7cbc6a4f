// Documents that alias one field many times: what a hostile or careless client sends.

/** A query reading `aliases` times the value of every task run of a flow run. */
export function aliasedValues(aliases: number): string {
  const one = (i: number) =>
    `a${i}: flowRun(id: $id) { taskRuns { nodes { state { result { ... on Result { value } } } } } }`;
  return `query ($id: ID!) { ${Array.from({ length: aliases }, (_, i) => one(i)).join(" ")} }`;
}
