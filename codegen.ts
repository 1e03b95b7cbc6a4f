import type { CodegenConfig } from "@graphql-codegen/cli";

// One command (`npm run generate`) writes every generated file; none is committed.
const config: CodegenConfig = {
  schema: "schema.graphql",
  // The SDK's operations: the tests drive the API through them, as any client would.
  documents: ["src/client/operations/**/*.graphql"],
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
          FlowRun: "../graphql/mappers.js#FlowRunModel",
          TaskRun: "../graphql/mappers.js#TaskRunModel",
          State: "../graphql/mappers.js#StateModel",
          CachedInput: "./prisma/client.js#CachedInput",
          Result: "./prisma/client.js#Result",
          Parameter: "../graphql/mappers.js#ParameterModel",
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
      presetConfig: { fragmentMasking: false },
    },
  },
};

export default config;
