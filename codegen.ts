import type { CodegenConfig } from "@graphql-codegen/cli";

// One command (`npm run generate`) writes every generated file; none is committed.
const config: CodegenConfig = {
  schema: "schema.graphql",
  documents: ["test/**/*.ts", "bench/**/*.ts"],
  ignoreNoDocuments: true,
  emitLegacyCommonJSImports: false,
  generates: {
    // Resolver types for the server, bound to the internal (Prisma) models by mappers.
    "src/generated/graphql.ts": {
      plugins: ["typescript", "typescript-resolvers"],
      config: {
        useTypeImports: true,
        enumsAsTypes: true,
        contextType: "../graphql/context.js#GraphQLContext",
        mapperTypeSuffix: "Model",
        mappers: {
          Flow: "./prisma/client.js#Flow",
          Task: "./prisma/client.js#Task",
          FlowRun: "./prisma/client.js#FlowRun",
          TaskRun: "../graphql/mappers.js#TaskRunModel",
          State: "../graphql/mappers.js#StateModel",
          CachedInput: "./prisma/client.js#CachedInput",
          Result: "./prisma/client.js#Result",
          Parameter: "../graphql/mappers.js#ParameterModel",
          NoResult: "../graphql/mappers.js#NoResultModel",
          ResultHandler: "../results/handler-spec.js#HandlerSpec",
        },
        scalars: { JSON: "unknown", DateTime: "Date" },
        strictScalars: true,
      },
    },
    // Typed documents for clients (the tests drive the API through these).
    "test/generated/": {
      preset: "client",
      config: {
        useTypeImports: true,
        enumsAsTypes: true,
        scalars: { JSON: "unknown", DateTime: "string" },
        strictScalars: true,
      },
      presetConfig: { fragmentMasking: false },
    },
  },
};

export default config;
