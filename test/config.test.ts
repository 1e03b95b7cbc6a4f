import { resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { loadConfig } from "../src/config/config.js";

describe("configuration", () => {
  it("defaults to a LOCAL handler under the data folder and an embedded database", () => {
    const config = loadConfig({});
    expect(config.databaseUrl).toBeUndefined();
    expect(config.dataDir).toBe(resolve("data"));
    expect(config.defaultHandler).toEqual({ type: "LOCAL", dir: resolve("data/results") });
    expect(config.handlers.LOCAL.allowedDirs).toEqual([resolve("data/results")]);
    expect(config.port).toBe(4000);
  });

  it("takes a JSON default and extra local directories", () => {
    const config = loadConfig({ HANDLED_DEFAULT_HANDLER: "JSON", HANDLED_LOCAL_DIRS: "/srv/a, /srv/b" });
    expect(config.defaultHandler).toEqual({ type: "JSON" });
    expect(config.handlers.LOCAL.allowedDirs).toEqual(["/srv/a", "/srv/b"]);
  });

  it("lists every problem at once", () => {
    expect(() => loadConfig({ PORT: "http", DATABASE_URL: "not a url", HANDLED_MAX_VALUE_BYTES: "-1" })).toThrow(
      /PORT[\s\S]*DATABASE_URL|DATABASE_URL[\s\S]*PORT/,
    );
    expect(() => loadConfig({ PORT: "http", DATABASE_URL: "not a url", HANDLED_MAX_VALUE_BYTES: "-1" })).toThrow(
      /HANDLED_MAX_VALUE_BYTES/,
    );
  });

  it("lists the default handler's and the secret's problems with the others", () => {
    expect(() => loadConfig({ PORT: "http", HANDLED_DEFAULT_HANDLER: "S3", AWS_CREDENTIALS: "{}" })).toThrow(
      /PORT[\s\S]*AWS_CREDENTIALS[\s\S]*HANDLED_DEFAULT_HANDLER_BUCKET/,
    );
  });

  it("refuses an object-store default without a bucket", () => {
    expect(() => loadConfig({ HANDLED_DEFAULT_HANDLER: "S3" })).toThrow(/HANDLED_DEFAULT_HANDLER_BUCKET/);
  });

  it("reads S3 credentials from the AWS_CREDENTIALS secret and never echoes it", () => {
    const config = loadConfig({
      AWS_CREDENTIALS: JSON.stringify({ ACCESS_KEY: "AKIDEXAMPLE", SECRET_ACCESS_KEY: "s3cr3t-value" }),
    });
    expect(config.handlers.S3.credentials).toEqual({ accessKeyId: "AKIDEXAMPLE", secretAccessKey: "s3cr3t-value" });

    for (const secret of ['{"ACCESS_KEY": "AKIDEXAMPLE", "SECRET": "s3cr3t-value"}', "s3cr3t-value not json"]) {
      let message = "";
      try {
        loadConfig({ AWS_CREDENTIALS: secret });
      } catch (error) {
        message = (error as Error).message;
      }
      expect(message).toMatch(/AWS_CREDENTIALS/);
      expect(message).not.toContain("s3cr3t-value");
    }
  });

  it("allows the default handler's bucket and the listed ones", () => {
    const config = loadConfig({
      HANDLED_DEFAULT_HANDLER: "GCS",
      HANDLED_DEFAULT_HANDLER_BUCKET: "results",
      HANDLED_GCS_BUCKETS: "extra",
      HANDLED_S3_BUCKETS: "a,b",
    });
    expect(config.defaultHandler).toEqual({ type: "GCS", bucket: "results" });
    expect(config.handlers.GCS.buckets).toEqual(["extra", "results"]);
    expect(config.handlers.S3.buckets).toEqual(["a", "b"]);
    expect(config.handlers.LOCAL.allowedDirs).toEqual([]);
  });

  it("shows the schema (introspection, suggestions) in development only, unless told", () => {
    const pick = (env: Record<string, string>) => {
      const { introspection, fieldSuggestions, graphiql } = loadConfig(env);
      return { introspection, fieldSuggestions, graphiql };
    };
    expect(pick({})).toEqual({ introspection: true, fieldSuggestions: true, graphiql: true });
    expect(pick({ NODE_ENV: "production" })).toEqual({
      introspection: false,
      fieldSuggestions: false,
      graphiql: false,
    });
    expect(pick({ NODE_ENV: "production", HANDLED_GRAPHIQL: "true" })).toEqual({
      introspection: true,
      fieldSuggestions: false,
      graphiql: true,
    });
    expect(pick({ HANDLED_INTROSPECTION: "false", HANDLED_FIELD_SUGGESTIONS: "false" })).toMatchObject({
      introspection: false,
      fieldSuggestions: false,
    });
  });

  it("takes the query limits from the environment, and refuses ones that are not positive", () => {
    expect(loadConfig({}).queryLimits).toEqual({
      maxDepth: 20,
      maxAliases: 100,
      maxDirectives: 50,
      maxTokens: 5000,
      maxCost: 100_000,
    });
    expect(loadConfig({ HANDLED_MAX_QUERY_DEPTH: "8" }).queryLimits.maxDepth).toBe(8);
    expect(() => loadConfig({ HANDLED_MAX_ALIASES: "0", HANDLED_MAX_QUERY_COST: "x" })).toThrow(
      /HANDLED_MAX_ALIASES[\s\S]*HANDLED_MAX_QUERY_COST/,
    );
  });

  it("needs API keys wherever others can reach the server, and refuses auth off there", () => {
    expect(loadConfig({}).auth.mode).toBe("off");
    expect(loadConfig({ NODE_ENV: "production" }).auth.mode).toBe("required");
    expect(loadConfig({ HOST: "0.0.0.0" }).auth.mode).toBe("required");
    expect(loadConfig({ HOST: "::1" }).auth.mode).toBe("off");
    expect(loadConfig({ NODE_ENV: "production", HANDLED_AUTH: "off" }).auth.mode).toBe("off");
    expect(() => loadConfig({ HOST: "0.0.0.0", HANDLED_AUTH: "off" })).toThrow(
      /HANDLED_AUTH: is off while HOST \(0\.0\.0\.0\) is reachable from other machines; set HANDLED_AUTH=required/,
    );
  });

  it("runs any document unless told to trust only the SDK's, which needs API keys", () => {
    expect(loadConfig({}).auth.trustedDocuments).toBe("off");
    expect(loadConfig({ HANDLED_AUTH: "required", HANDLED_TRUSTED_DOCUMENTS: "only" }).auth.trustedDocuments).toBe(
      "only",
    );
    expect(() => loadConfig({ HANDLED_TRUSTED_DOCUMENTS: "only" })).toThrow(
      /HANDLED_TRUSTED_DOCUMENTS: only holds API keys to the SDK's operations, and auth is off/,
    );
    expect(() => loadConfig({ HANDLED_TRUSTED_DOCUMENTS: "some" })).toThrow(/HANDLED_TRUSTED_DOCUMENTS/);
  });

  describe("encryption keys", () => {
    const key = (byte: number) => Buffer.alloc(32, byte).toString("base64");
    const messageOf = (env: Record<string, string>) => {
      try {
        loadConfig(env);
      } catch (error) {
        return (error as Error).message;
      }
      return "";
    };

    it("reads id:key pairs, and writes with the one key given or the one named", () => {
      expect(loadConfig({ HANDLED_ENCRYPTION_KEYS: `k1:${key(1)}` }).encryption.writeKeyId).toBe("k1");
      const two = loadConfig({
        HANDLED_ENCRYPTION_KEYS: `k1:${key(1)}, k2:${key(2)}`,
        HANDLED_ENCRYPTION_KEY_ID: "k2",
      });
      expect(two.encryption.writeKeyId).toBe("k2");
      expect([...two.encryption.keys.keys()]).toEqual(["k1", "k2"]);
      expect(two.encryption.keys.get("k2")).toEqual(Buffer.alloc(32, 2));
      expect(loadConfig({}).encryption).toEqual({ writeKeyId: undefined, keys: new Map() });
    });

    it("refuses keys that are not 32 bytes, ids that are not named, and never echoes a key", () => {
      const short = Buffer.alloc(16, 9).toString("base64");
      const cases: [Record<string, string>, RegExp][] = [
        [{ HANDLED_ENCRYPTION_KEYS: `k1:${short}` }, /HANDLED_ENCRYPTION_KEYS: the key "k1" is not 32 bytes/],
        [{ HANDLED_ENCRYPTION_KEYS: short }, /HANDLED_ENCRYPTION_KEYS: entry 1 is not id:key/],
        [{ HANDLED_ENCRYPTION_KEYS: `k1:${key(1)},k2:${key(2)}` }, /HANDLED_ENCRYPTION_KEY_ID: name the key/],
        [{ HANDLED_ENCRYPTION_KEYS: `k1:${key(1)}`, HANDLED_ENCRYPTION_KEY_ID: "k9" }, /"k9" is not one of the ids/],
        [{ HANDLED_ENCRYPTION_KEYS: `k1:${key(1)},k1:${key(2)}` }, /"k1" is given twice/],
        [{ HANDLED_DEFAULT_HANDLER_CODECS: "aes-256-gcm" }, /HANDLED_DEFAULT_HANDLER_CODECS: names aes-256-gcm/],
      ];
      for (const [env, expected] of cases) {
        const message = messageOf(env);
        expect(message).toMatch(expected);
        expect(message).not.toContain(short);
        expect(message).not.toContain(key(1));
        expect(message).not.toContain(key(2));
      }
    });

    it("gives the default handler codecs and size routing", () => {
      const config = loadConfig({
        HANDLED_ENCRYPTION_KEYS: `k1:${key(1)}`,
        HANDLED_DEFAULT_HANDLER_CODECS: "zstd, aes-256-gcm",
        HANDLED_DEFAULT_HANDLER_INLINE_BELOW_BYTES: "4096",
      });
      expect(config.defaultHandler).toEqual({
        type: "LOCAL",
        dir: resolve("data/results"),
        codecs: ["zstd", "aes-256-gcm"],
        inlineBelowBytes: 4096,
      });
      expect(messageOf({ HANDLED_DEFAULT_HANDLER_CODECS: "aes-256-gcm,gzip" })).toMatch(
        /HANDLED_DEFAULT_HANDLER_CODECS: must name aes-256-gcm last/,
      );
      expect(messageOf({ HANDLED_DEFAULT_HANDLER_CODECS: "brotli" })).toMatch(/HANDLED_DEFAULT_HANDLER_CODECS/);
      expect(messageOf({ HANDLED_DEFAULT_HANDLER_INLINE_BELOW_BYTES: "-5" })).toMatch(
        /HANDLED_DEFAULT_HANDLER_INLINE_BELOW_BYTES/,
      );
    });
  });

  it("reads the sweep's grace period and interval as durations", () => {
    expect(loadConfig({}).lifecycle).toEqual({
      gcGraceMs: 3_600_000,
      gcIntervalMs: 600_000,
      retentionDays: undefined,
      retentionIntervalMs: 3_600_000,
      retentionBatchSize: 100,
      retentionPauseMs: 50,
    });
    expect(loadConfig({ HANDLED_GC_GRACE: "90s", HANDLED_GC_INTERVAL: "0" }).lifecycle).toMatchObject({
      gcGraceMs: 90_000,
      gcIntervalMs: 0,
    });
    expect(
      loadConfig({ HANDLED_GC_GRACE: "2h", HANDLED_GC_INTERVAL: "500ms", HANDLED_RETENTION_DAYS: "30" }).lifecycle,
    ).toMatchObject({ gcGraceMs: 7_200_000, gcIntervalMs: 500, retentionDays: 30 });
    expect(() => loadConfig({ HANDLED_RETENTION_DAYS: "0" })).toThrow(/HANDLED_RETENTION_DAYS/);
    expect(() => loadConfig({ HANDLED_GC_GRACE: "an hour" })).toThrow(/HANDLED_GC_GRACE: is not a duration/);
  });
});
