import type { FastifyReply } from "fastify";

/** A GraphQL-shaped error answer, as clients of the API parse them (on /graphql and beside it). */
export function sendError(reply: FastifyReply, status: number, code: string, message: string): FastifyReply {
  return reply
    .code(status)
    .type("application/json; charset=utf-8")
    .send({ errors: [{ message, extensions: { code } }] });
}
