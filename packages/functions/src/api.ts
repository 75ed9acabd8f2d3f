/** Lambda entry of the example service's API behind API Gateway HTTP API (work in progress). */
import { handle } from "hono/aws-lambda";
import { createApiApp } from "./api/app.ts";

export const handler = handle(createApiApp());
