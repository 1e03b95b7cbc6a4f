import type { ApolloServerPlugin } from "@apollo/server";

// Anonymous: GraphiQL keeps a default query's operation name and fails to run an edited query
// without it ("Cannot infer operation").
const DEFAULT_QUERY = `# Handled: task runs and their results, stored as handles.
# Ctrl-Enter runs the query; the Docs panel has the schema.
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
 * with no network beyond this server (Apollo's own landing pages load from a CDN). The package
 * is a development dependency: where it is not installed, the plugin is not made and the
 * server says so.
 */
export async function graphiqlLandingPage(): Promise<ApolloServerPlugin | undefined> {
  let render: typeof import("@graphql-yoga/render-graphiql").renderGraphiQL;
  try {
    ({ renderGraphiQL: render } = await import("@graphql-yoga/render-graphiql"));
  } catch {
    console.warn("GraphiQL is on but @graphql-yoga/render-graphiql is not installed (npm ci installs it); serving no IDE.");
    return undefined;
  }
  const html = render({ title: "Handled GraphiQL", endpoint: "/graphql", defaultQuery: DEFAULT_QUERY });
  return {
    async serverWillStart() {
      return {
        async renderLandingPage() {
          return { html };
        },
      };
    },
  };
}
