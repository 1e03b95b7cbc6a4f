import type { CodegenConfig } from "@graphql-codegen/cli";

// One command (`npm run generate`) writes every generated file; none is committed.
const config: CodegenConfig = {
  schema: "schema.graphql",
  // The SDK's operations: the tests drive the API through them, as any client would.
  documents: ["sdk/operations/**/*.graphql"],
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
          FlowConnection: "../graphql/mappers.js#FlowConnectionModel",
          FlowRunConnection: "../graphql/mappers.js#FlowRunConnectionModel",
          TaskRunConnection: "../graphql/mappers.js#TaskRunConnectionModel",
          StateConnection: "../graphql/mappers.js#StateConnectionModel",
          FlowEdge: "../graphql/mappers.js#FlowEdgeModel",
          FlowRunEdge: "../graphql/mappers.js#FlowRunEdgeModel",
          TaskRunEdge: "../graphql/mappers.js#TaskRunEdgeModel",
          StateEdge: "../graphql/mappers.js#StateEdgeModel",
          ResultHandler: "../results/handler-spec.js#HandlerSpec",
          // With enumValues below, codegen types this enum's resolvers only through a mapper.
          Codec: "../results/codecs.js#Codec",
        },
        scalars: { JSON: "unknown", DateTime: "Date", SafeInt: "number" },
        strictScalars: true,
        // The server holds codecs by the names stored with results (see results/codecs.ts).
        enumValues: { Codec: { GZIP: "gzip", ZSTD: "zstd", AES_256_GCM: "aes-256-gcm" } },
      },
    },
    // The SDK (@handled/client): operation types and typed documents (as strings, so its client
    // needs no GraphQL runtime), each with its documentId (persisted-documents.json).
    "sdk/src/generated/": {
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
    // The same operations as DocumentNode objects (@handled/client/documents), for Apollo Client,
    // urql or any client that wants a parsed document; still no GraphQL runtime needed.
    "sdk/src/generated-ast/": {
      preset: "client",
      config: {
        useTypeImports: true,
        enumsAsTypes: true,
        documentMode: "documentNode",
        scalars: { JSON: "unknown", DateTime: "string", SafeInt: "number" },
        strictScalars: true,
      },
      presetConfig: { fragmentMasking: false },
    },
    // Which types each union or interface may be, for Apollo Client's InMemoryCache: without it,
    // fragments on ResultOrNone's members match nothing and their fields come back empty.
    "sdk/src/generated/possible-types.ts": {
      plugins: ["fragment-matcher"],
      config: { useExplicitTyping: true },
    },
  },
};

export default config;
