/** `value` without its undefined fields (DynamoDB's marshaller refuses undefined values). */
export function stripUndefined<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}
