/** Errors that map to an HTTP status. Messages must never contain a secret value. */
export class VeilError extends Error {
  constructor(
    readonly statusCode: number,
    message: string,
  ) {
    super(message);
    this.name = new.target.name;
  }
}
export class BadRequestError extends VeilError {
  constructor(message: string) {
    super(400, message);
  }
}
export class UnauthorizedError extends VeilError {
  constructor(message = 'missing or invalid API key') {
    super(401, message);
  }
}
export class ForbiddenError extends VeilError {
  constructor(message: string) {
    super(403, message);
  }
}
export class NotFoundError extends VeilError {
  constructor(message: string) {
    super(404, message);
  }
}
export class ConflictError extends VeilError {
  constructor(message: string) {
    super(409, message);
  }
}
