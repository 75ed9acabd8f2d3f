/**
 * Errors the API answers with. Each carries its HTTP status and a stable code; the app turns
 * them into `{ "error": { "code", "message" } }`. Anything else becomes a 500 without details.
 */
import { FerryError } from "../errors.ts";

/** The statuses an ApiError answers with. */
export type ApiErrorStatus = 400 | 401 | 403 | 404 | 405 | 406 | 409 | 410 | 412 | 413 | 415 | 422 | 428 | 429 | 500 | 503;

/** An error with an HTTP status and a machine-readable code. */
export class ApiError extends FerryError {
  constructor(
    readonly status: ApiErrorStatus,
    readonly code: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** A query parameter or path segment is missing or malformed. */
export class BadRequestError extends ApiError {
  constructor(
    readonly parameter: string,
    message: string,
  ) {
    super(400, "bad_request", message);
  }
}

/** A `nextToken` that was not issued by this API for this caller and this query. */
export class InvalidNextTokenError extends ApiError {
  constructor(reason: string) {
    super(400, "invalid_next_token", `nextToken is not valid for this request (${reason}); start again without nextToken.`);
  }
}

/** Missing, malformed, expired or wrongly signed bearer token. */
export class UnauthorizedError extends ApiError {
  constructor(reason: string) {
    super(401, "unauthorized", `${reason}; send Authorization: Bearer <JWT> with a "tenant" claim.`);
  }
}

/** A version that does not exist (neither v1 nor v2). */
export class UnknownVersionError extends ApiError {
  constructor(readonly requested: string) {
    super(400, "unknown_version", `Unknown API version "${requested}"; use v1 or v2 (path /v1, /v2 or header Accept-Version: 1|2).`);
  }
}

/** v1 after the remove step. */
export class VersionGoneError extends ApiError {
  constructor(
    readonly path: string,
    /** Where the same request is served by v2. */
    readonly successor: string,
  ) {
    super(410, "gone", `v1 was retired; call ${successor} instead.`);
  }
}

/** A v1 request whose use could not be recorded for the remove guard: not answered, so v1 is never retired under a client. */
export class UsageUnrecordedError extends ApiError {
  constructor(options?: { cause?: unknown }) {
    super(503, "usage_unrecorded", "This v1 request could not be recorded (control table unavailable); retry in a moment, or call /v2.", options);
  }
}
