import { existsSync } from "node:fs";
/**
 * A file or folder shipped beside the code (schema.graphql, prisma/migrations), found by walking
 * up from this module: the same from src/ under vitest, from dist/, or from any other build
 * folder. Throws when no ancestor holds it.
 */
export function projectFile(relative) {
    for (let dir = new URL(".", import.meta.url);; dir = new URL("..", dir)) {
        const candidate = new URL(relative, dir);
        if (existsSync(candidate))
            return candidate;
        if (dir.pathname === "/")
            throw new Error(`${relative} was not found above ${import.meta.url}`);
    }
}
//# sourceMappingURL=project-files.js.map