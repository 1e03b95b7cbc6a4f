import { mkdtemp, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { loadConfig } from "../src/config/config.js";
import { readSigningSecret, SECRET_FILE } from "../src/config/transfers.js";

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

  it("gives LOCAL files one worker thread unless told otherwise, and none with 0", () => {
    expect(loadConfig({}).handlers.LOCAL.fileWorkers).toBe(1);
    expect(loadConfig({ HANDLED_LOCAL_FILE_WORKERS: "0" }).handlers.LOCAL.fileWorkers).toBe(0);
    expect(loadConfig({ HANDLED_LOCAL_FILE_WORKERS: "4" }).handlers.LOCAL.fileWorkers).toBe(4);
    expect(() => loadConfig({ HANDLED_LOCAL_FILE_WORKERS: "-1" })).toThrow(/HANDLED_LOCAL_FILE_WORKERS/);
    expect(() => loadConfig({ HANDLED_LOCAL_FILE_WORKERS: "two" })).toThrow(/HANDLED_LOCAL_FILE_WORKERS/);
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

describe("transfer settings", () => {
  it("refuse a short signing secret and a public URL that is not one, naming no secret", () => {
    const secret = "too-short-a-secret";
    let message = "";
    try {
      loadConfig({
        HANDLED_SIGNING_SECRET: secret,
        HANDLED_PUBLIC_URL: "api.example.com",
        HANDLED_UPLOAD_URL_EXPIRY: "8d",
      });
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toContain("HANDLED_SIGNING_SECRET: must be at least 32 characters");
    expect(message).toContain("HANDLED_PUBLIC_URL");
    expect(message).not.toContain(secret);
  });

  it("take a public URL without its trailing slash, and bounded expiries", () => {
    const { transfers } = loadConfig({
      HANDLED_PUBLIC_URL: "https://api.example.com/handled/",
      HANDLED_UPLOAD_URL_EXPIRY: "5m",
      HANDLED_DOWNLOAD_URL_MAX_EXPIRY: "2h",
    });
    expect(transfers).toMatchObject({
      publicUrl: "https://api.example.com/handled",
      uploadExpiryMs: 300_000,
      maxDownloadExpiryMs: 7_200_000,
      signingSecret: undefined,
    });
  });

  it("keep a made signing secret in the data folder, readable by its owner only, and reuse it", async () => {
    const dir = await mkdtemp(join(tmpdir(), "handled-secret-"));
    try {
      const { transfers } = loadConfig({});
      const made = await readSigningSecret(transfers, dir);
      expect(made.generated).toBe(join(dir, SECRET_FILE));
      expect((await stat(join(dir, SECRET_FILE))).mode & 0o777).toBe(0o600);
      expect((await readSigningSecret(transfers, dir)).secret).toBe(made.secret);
      // Two starts at once on a new folder agree on one secret: one makes it, the other reads it.
      const fresh = join(dir, "fresh");
      const both = await Promise.all([readSigningSecret(transfers, fresh), readSigningSecret(transfers, fresh)]);
      expect(both[0].secret).toBe(both[1].secret);
      expect(both.filter((read) => read.generated !== undefined)).toHaveLength(1);
      expect((await readSigningSecret({ ...transfers, signingSecret: "x".repeat(32) }, dir)).secret).toBe(
        "x".repeat(32),
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
