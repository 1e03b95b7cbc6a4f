const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** Whether an id can name a row at all (ids are UUIDs); others are simply not found. */
export function isUuid(id) {
    return UUID.test(id);
}
//# sourceMappingURL=ids.js.map