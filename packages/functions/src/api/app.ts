/** The example service's Hono app (v1 and v2 routes). Work in progress by the lead engineer. */
import { Hono } from "hono";

export function createApiApp(): Hono {
  return new Hono();
}
