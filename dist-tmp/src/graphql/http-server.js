import { HeaderMap } from "@apollo/server";
class HttpError extends Error {
    status;
    code;
    constructor(status, code, message) {
        super(message);
        this.status = status;
        this.code = code;
    }
}
function sendError(res, status, code, message) {
    res.statusCode = status;
    res.setHeader("content-type", "application/json; charset=utf-8");
    res.end(JSON.stringify({ errors: [{ message, extensions: { code } }] }));
}
async function readBody(req, limit) {
    const declared = Number(req.headers["content-length"] ?? 0);
    if (declared > limit)
        throw new HttpError(413, "PAYLOAD_TOO_LARGE", `The request body is over ${limit} bytes.`);
    const chunks = [];
    let size = 0;
    for await (const chunk of req) {
        size += chunk.length;
        if (size > limit)
            throw new HttpError(413, "PAYLOAD_TOO_LARGE", `The request body is over ${limit} bytes.`);
        chunks.push(chunk);
    }
    return Buffer.concat(chunks).toString("utf8");
}
async function parseBody(req, limit) {
    if (req.method !== "POST")
        return undefined;
    const text = await readBody(req, limit);
    const type = req.headers["content-type"] ?? "";
    if (!type.toLowerCase().startsWith("application/json"))
        return text;
    try {
        return JSON.parse(text);
    }
    catch {
        throw new HttpError(400, "BAD_REQUEST", "The request body is not valid JSON.");
    }
}
/**
 * The request listener of the API's node:http server: POST/GET /graphql (Apollo Server),
 * GET /healthz and GET /metrics. The request-size limit is ours, so it can follow the
 * configured value size.
 */
export function createRequestListener(options) {
    const { apollo, context, maxRequestBytes, metrics, checkHealth } = options;
    async function handle(req, res) {
        const url = new URL(req.url ?? "/", "http://localhost");
        if (url.pathname === "/healthz") {
            await checkHealth()
                .then(() => {
                res.setHeader("content-type", "application/json");
                res.end(JSON.stringify({ status: "ok" }));
            })
                .catch(() => sendError(res, 503, "UNAVAILABLE", "The database does not answer."));
            return;
        }
        if (url.pathname === "/metrics" && req.method === "GET") {
            res.setHeader("content-type", metrics.contentType);
            res.end(await metrics.metrics());
            return;
        }
        if (url.pathname !== "/graphql") {
            sendError(res, 404, "NOT_FOUND", "The API is served at /graphql.");
            return;
        }
        const headers = new HeaderMap();
        for (const [key, value] of Object.entries(req.headers)) {
            if (value !== undefined)
                headers.set(key, Array.isArray(value) ? value.join(", ") : value);
        }
        const response = await apollo.executeHTTPGraphQLRequest({
            httpGraphQLRequest: {
                method: (req.method ?? "GET").toUpperCase(),
                headers,
                search: url.search,
                body: await parseBody(req, maxRequestBytes),
            },
            context: async () => context,
        });
        for (const [key, value] of response.headers)
            res.setHeader(key, value);
        res.statusCode = response.status ?? 200;
        if (response.body.kind === "complete") {
            res.end(response.body.string);
            return;
        }
        for await (const chunk of response.body.asyncIterator)
            res.write(chunk);
        res.end();
    }
    return (req, res) => {
        handle(req, res).catch((error) => {
            if (error instanceof HttpError) {
                // The rest of an oversized body is not read; close the connection instead.
                if (error.status === 413)
                    res.setHeader("connection", "close");
                sendError(res, error.status, error.code, error.message);
            }
            else {
                console.error("request failed", error);
                if (!res.headersSent)
                    sendError(res, 500, "INTERNAL_SERVER_ERROR", "The request failed.");
                else
                    res.end();
            }
        });
    };
}
//# sourceMappingURL=http-server.js.map