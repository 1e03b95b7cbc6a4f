// The layers of src/, from the top: a module may import its own layer and those below it, never
// one above. `npm test` runs this (npm run lint); README "Architecture" explains the layers.
const layers = [
  // The programs: the service, and the key-management command.
  { name: "main", path: "^src/(main\\.ts|cli/)" },
  { name: "app", path: "^src/app\\.ts$" },
  { name: "http", path: "^src/http/" },
  { name: "graphql", path: "^src/graphql/" },
  { name: "services", path: "^src/services/" },
  // Configuration is parsed against the handler definitions, so it sits above results and db,
  // which take their own option types and never read the environment.
  { name: "config", path: "^src/config/" },
  // Side by side: neither imports the other (see no-results-db-crossing).
  { name: "results", path: "^src/results/", level: "storage" },
  { name: "db", path: "^src/db/", level: "storage" },
  { name: "base", path: "^src/(errors|logger|metrics|deadline|validation|project-files|free-port|threadpool)\\.ts$" },
];

/** The layers above `layer`: earlier in the list, and not on its level. */
const above = (layer) =>
  layers.slice(0, layers.indexOf(layer)).filter((other) => layer.level === undefined || other.level !== layer.level);

module.exports = {
  forbidden: [
    ...layers.slice(1).map((layer) => ({
      name: `no-${layer.name}-importing-up`,
      comment: `${layer.name} may not import a layer above it (${above(layer)
        .map((other) => other.name)
        .join(", ")}).`,
      severity: "error",
      from: { path: layer.path },
      to: { path: above(layer).map((other) => other.path) },
    })),
    {
      name: "no-results-db-crossing",
      comment: "results and db are side by side: neither imports the other (services join them).",
      severity: "error",
      from: { path: "^src/(results|db)/" },
      to: { path: "^src/(results|db)/", pathNot: "^src/$1/" },
    },
    {
      name: "prisma-only-in-db",
      comment:
        "Only the data-access layer (src/db) uses Prisma's generated client; everything else works with its rows.",
      severity: "error",
      from: { path: "^src/", pathNot: "^src/(db|generated)/" },
      to: { path: "^src/generated/prisma/" },
    },
    {
      name: "client-stands-alone",
      comment: "The SDK (sdk/, @handled/client) is published: it imports nothing of the server.",
      severity: "error",
      from: { path: "^sdk/" },
      to: { path: "^src/" },
    },
    {
      name: "server-without-client",
      comment: "The server does not depend on its SDK.",
      severity: "error",
      from: { path: "^src/" },
      to: { path: "^sdk/" },
    },
    {
      name: "browser-through-sdk",
      comment: "The results browser (ui/) is a client like any other: it reaches the API through the SDK only.",
      severity: "error",
      from: { path: "^ui/" },
      to: { path: "^src/" },
    },
    {
      name: "no-circular",
      severity: "error",
      from: {},
      to: { circular: true },
    },
  ],
  options: {
    doNotFollow: { path: "node_modules" },
    exclude: { path: "^(src/generated|sdk/src/generated|sdk/src/generated-ast)/" },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: "tsconfig.json" },
    enhancedResolveOptions: { extensions: [".ts", ".js"] },
  },
};
