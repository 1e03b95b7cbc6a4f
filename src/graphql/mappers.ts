/** The absence of a result (the GraphQL NoResult), as opposed to a result whose value is null. */
export interface NoResultModel {
  noResult: true;
}

export const NO_RESULT: NoResultModel = { noResult: true };
