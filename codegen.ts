import type { CodegenConfig } from "@graphql-codegen/cli";

// One command (`npm run generate`) writes every generated file; none is committed.
const config: CodegenConfig = {
  schema: "schema.graphql",
  // The SDK's operations: the tests drive the API through them, as any client would.
  documents: ["src/client/operations/**/*.graphql"],
  emitLegacyCommonJSImports: false,
  generates: {
    // Resolver types for the server, bound by mappers to the rows the data-access layer returns.
    "src/generated/graphql.ts": {
      plugins: ["typescript", "typescript-resolvers"],
      config: {
        useTypeImports: true,
        enumsAsTypes: true,
        contextType: "../graphql/context.js#GraphQLContext",
        mapperTypeSuffix: "Model",
        mappers: {
          ApiKey: "../services/api-keys.js#KeyInfo",
          Flow: "../db/rows.js#FlowRow",
          Task: "../db/rows.js#TaskRow",
          FlowRun: "../db/rows.js#FlowRunRow",
          TaskRun: "../db/rows.js#TaskRunRow",
          State: "../db/rows.js#StateRow",
          CachedInput: "../db/rows.js#CachedInputRow",
          Result: "../db/rows.js#ResultRow",
          Parameter: "../db/rows.js#ParameterRow",
          NoResult: "../graphql/mappers.js#NoResultModel",
          ResultHandler: "../results/handler-spec.js#HandlerSpec",
        },
        scalars: { JSON: "unknown", DateTime: "Date", SafeInt: "number" },
        strictScalars: true,
      },
    },
    // The SDK: operation types and typed documents (as strings, so a client needs no GraphQL
    // runtime) for src/client.
    "src/client/generated/": {
      preset: "client",
      config: {
        useTypeImports: true,
        enumsAsTypes: true,
        documentMode: "string",
        scalars: { JSON: "unknown", DateTime: "string", SafeInt: "number" },
        strictScalars: true,
      },
      presetConfig: { fragmentMasking: false, persistedDocuments: true },
    },
  },
};

export default config;
