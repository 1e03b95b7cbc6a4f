// Types of sdk-version.mjs, for the test that imports it.
export interface Release {
  version: string;
  schema: string;
}
export declare function current(): Release;
export declare function released(): Release;
export declare function checkVersion(
  release: Release,
  next: Release,
): Promise<{ changes: string[]; needs: "major" | "minor" | undefined; problem: string | undefined }>;
export declare function record(): Promise<void>;
