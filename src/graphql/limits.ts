import { maxAliasesRule } from "@escape.tech/graphql-armor-max-aliases";
import { maxDepthRule } from "@escape.tech/graphql-armor-max-depth";
import { maxDirectivesRule } from "@escape.tech/graphql-armor-max-directives";
import type { GraphQLArmorRejectCallback } from "@escape.tech/graphql-armor-types";
import { type DocumentNode, GraphQLError, type GraphQLSchema, Kind, type ValidationRule, visit } from "graphql";
import { type ComplexityEstimator, getComplexity, simpleEstimator } from "graphql-query-complexity";
import type { QueryLimits } from "../config/config.js";
import { ErrorCode } from "../errors.js";
import { DEFAULT_PAGE_SIZES, MAX_PAGE_SIZE } from "./pagination.js";

/** The codes of the refusals these limits make; a document refused by one changed nothing. */
export const LIMIT_CODES = new Set<string>([
  ErrorCode.QUERY_TOO_DEEP,
  ErrorCode.TOO_MANY_ALIASES,
  ErrorCode.TOO_MANY_DIRECTIVES,
]);

/** A refusal reported as a validation error carrying its own code (Apollo keeps it as the original). */
const reject =
  (code: ErrorCode, what: string, variable: string): GraphQLArmorRejectCallback =>
  (context, error) => {
    // The library's message says the limit and what it found ("... limit of 15 exceeded, found 16").
    const detail = error.message.replace(/^Syntax Error: /, "");
    context?.reportError(new GraphQLError(`${what}: ${detail} (${variable}).`, { extensions: { code } }));
  };

/** The validation rules that enforce the limits (graphql-armor's), each refusal with its own code. */
export function limitRules(limits: QueryLimits): ValidationRule[] {
  const common = { exposeLimits: true, propagateOnRejection: false } as const;
  return [
    maxDepthRule({
      ...common,
      n: limits.maxDepth,
      ignoreIntrospection: true,
      onReject: [reject(ErrorCode.QUERY_TOO_DEEP, "The query nests too deep", "HANDLED_MAX_QUERY_DEPTH")],
    }),
    maxAliasesRule({
      ...common,
      n: limits.maxAliases,
      onReject: [reject(ErrorCode.TOO_MANY_ALIASES, "The query has too many aliases", "HANDLED_MAX_ALIASES")],
    }),
    maxDirectivesRule({
      ...common,
      n: limits.maxDirectives,
      onReject: [reject(ErrorCode.TOO_MANY_DIRECTIVES, "The query has too many directives", "HANDLED_MAX_DIRECTIVES")],
    }),
  ] as ValidationRule[];
}

/** A page of a connection costs what one item selects, times the items it may hold. */
const pageEstimator: ComplexityEstimator = ({ field, args, childComplexity }) => {
  if (!field.args.some((arg) => arg.name === "first")) return undefined;
  // A page larger than the most one may hold is refused by its resolver, with what the most is.
  const first = typeof args.first === "number" && args.first > 0 ? Math.min(args.first, MAX_PAGE_SIZE) : undefined;
  const size = first ?? DEFAULT_PAGE_SIZES[field.name as keyof typeof DEFAULT_PAGE_SIZES] ?? 100;
  return 1 + size * childComplexity;
};

const estimators = [pageEstimator, simpleEstimator({ defaultComplexity: 1 })];

/** The cost of an operation of `document` with `variables` (see QueryLimits.maxCost). */
export function operationCost(
  schema: GraphQLSchema,
  document: DocumentNode,
  variables: Record<string, unknown>,
  operationName?: string,
): number {
  return getComplexity({ schema, query: document, variables, operationName, estimators });
}

/** Per document (Apollo keeps one DocumentNode per query text): the variables its page sizes use, and costs seen. */
const costs = new WeakMap<DocumentNode, { pageVariables: string[]; byPages: Map<string, number> }>();

/**
 * The variables a document's cost depends on: those its `first` arguments take (page sizes), and
 * those of its @skip and @include (what is selected at all).
 */
function pageVariablesOf(document: DocumentNode): string[] {
  const names = new Set<string>();
  visit(document, {
    Argument(node) {
      if (node.name.value === "first" && node.value.kind === Kind.VARIABLE) names.add(node.value.name.value);
    },
    Directive(node) {
      if (node.name.value !== "skip" && node.name.value !== "include") return;
      for (const argument of node.arguments ?? []) {
        if (argument.value.kind === Kind.VARIABLE) names.add(argument.value.name.value);
      }
    },
  });
  return [...names];
}

/**
 * operationCost, remembered per document and page sizes: the analysis walks the whole document,
 * which would cost every request of the same operation again.
 */
function cachedCost(
  schema: GraphQLSchema,
  document: DocumentNode,
  variables: Record<string, unknown>,
  operationName?: string,
): number {
  let entry = costs.get(document);
  if (!entry) {
    entry = { pageVariables: pageVariablesOf(document), byPages: new Map() };
    costs.set(document, entry);
  }
  const key = `${operationName ?? ""}|${entry.pageVariables.map((name) => String(variables[name])).join(",")}`;
  let cost = entry.byPages.get(key);
  if (cost === undefined) {
    cost = operationCost(schema, document, variables, operationName);
    if (entry.byPages.size < 100) entry.byPages.set(key, cost);
  }
  return cost;
}

/**
 * Refuses, once the operation is known and before anything runs, an operation that costs more than
 * `maxCost` (graphql-query-complexity, with the page sizes its variables ask for) with
 * QUERY_TOO_COMPLEX. Page sizes over the limit are left to the resolvers (BAD_USER_INPUT).
 */
export function checkCost(
  maxCost: number,
  schema: GraphQLSchema,
  document: DocumentNode,
  variables: Record<string, unknown>,
  operationName: string | undefined,
): void {
  let cost: number;
  try {
    cost = cachedCost(schema, document, variables, operationName);
  } catch {
    // Variables that do not fit the operation: execution refuses them with BAD_USER_INPUT.
    return;
  }
  if (cost <= maxCost) return;
  throw new GraphQLError(
    `The query costs ${Math.round(cost)}, more than ${maxCost} (HANDLED_MAX_QUERY_COST): ask for smaller pages or fewer fields.`,
    { extensions: { code: ErrorCode.QUERY_TOO_COMPLEX, http: { status: 400 } } },
  );
}

/** graphql-js's refusal of a document over `maxTokens` (parse option), which has no code of its own. */
export function isTokenLimit(message: string): boolean {
  // graphql-js 16 writes "more that"; later versions may not.
  return /^Syntax Error: Document contains more th(?:an|at) \d+ tokens\. Parsing aborted\.$/.test(message);
}

/** A message without GraphQL's "Did you mean ...?" suggestions, which name parts of the schema. */
export function withoutSuggestions(message: string): string {
  return message.replace(/ ?Did you mean .+\?$/, "");
}
