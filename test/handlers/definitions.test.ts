import { readFile } from "node:fs/promises";
import { buildSchema, isEnumType, isInputObjectType, isObjectType } from "graphql";
import { describe, expect, it } from "vitest";
import { HandlerType as PrismaHandlerType } from "../../src/generated/prisma/enums.js";
import { HANDLER_TYPES } from "../../src/results/handler-spec.js";
import { HANDLER_DEFINITIONS } from "../../src/results/handlers/index.js";

// A handler type is defined once, in src/results/handlers; the two enums that name the types in
// other languages must follow that list, so a type added to one place only fails here.
describe("the handler definitions", () => {
  const graphqlSchema = async () =>
    buildSchema(await readFile(new URL("../../schema.graphql", import.meta.url), "utf8"));

  it("name each type once", () => {
    expect(new Set(HANDLER_TYPES).size).toBe(HANDLER_DEFINITIONS.length);
  });

  it("name the same types as the GraphQL enum", async () => {
    const type = (await graphqlSchema()).getType("ResultHandlerType");
    if (!isEnumType(type)) throw new Error("schema.graphql has no enum ResultHandlerType");
    expect(
      type
        .getValues()
        .map((value) => value.name)
        .sort(),
    ).toEqual([...HANDLER_TYPES].sort());
  });

  it("name the same types as the Prisma enum (and so the database's)", () => {
    expect(Object.values(PrismaHandlerType).sort()).toEqual([...HANDLER_TYPES].sort());
  });

  it("have every config field in the GraphQL handler types, and no field there is unknown to all", async () => {
    const schema = await graphqlSchema();
    const configFields = new Set(HANDLER_DEFINITIONS.flatMap((definition) => Object.keys(definition.schema.shape)));
    for (const name of ["ResultHandler", "ResultHandlerInput"]) {
      const type = schema.getType(name);
      if (!isObjectType(type) && !isInputObjectType(type)) throw new Error(`schema.graphql has no ${name}`);
      expect({ name, fields: Object.keys(type.getFields()).sort() }).toEqual({
        name,
        fields: [...configFields].sort(),
      });
    }
  });
});
