import type { ApolloServerPlugin } from "@apollo/server";
import type { Logger } from "../logger.js";

// Anonymous: GraphiQL keeps a default query's operation name and fails to run an edited query
// without it ("Cannot infer operation").
const DEFAULT_QUERY = `# Handled: task runs and their results, stored as handles.
# Ctrl-Enter runs the query; the Docs panel has the schema.
# A server with HANDLED_AUTH=required wants your API key: in the Headers tab below, put
# {"Authorization": "Bearer hnd_..."}
{
  flows(first: 10) {
    nodes {
      id
      name
      runs(first: 5) {
        nodes { id state createdAt }
      }
    }
  }
}
`;

/**
 * GraphiQL on the endpoint for a browser (GET with Accept: text/html), whole in one page: its
 * scripts, styles and editor workers are inlined by @graphql-yoga/render-graphiql, so it works
 * with no network beyond this server (Apollo's own landing pages load from a CDN). The page
 * (about 9 MB, some 45 MB of memory) is made on the first visit, not at start-up. The package
 * is a development dependency: where it is not installed, no plugin is made and the server
 * says so.
 */
export function graphiqlLandingPage(logger: Logger): ApolloServerPlugin | undefined {
  try {
    import.meta.resolve("@graphql-yoga/render-graphiql");
  } catch {
    logger.warn(
      "GraphiQL is on but @graphql-yoga/render-graphiql is not installed (npm ci installs it); serving no IDE.",
    );
    return undefined;
  }
  let page: Promise<string> | undefined;
  const render = async () => {
    const { renderGraphiQL } = await import("@graphql-yoga/render-graphiql");
    return renderGraphiQL({
      title: "Handled GraphiQL",
      endpoint: "/graphql",
      defaultQuery: DEFAULT_QUERY,
      headerEditorEnabled: true,
    });
  };
  return {
    async serverWillStart() {
      return {
        async renderLandingPage() {
          return { html: () => (page ??= render()) };
        },
      };
    },
  };
}
