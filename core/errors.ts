/**
 * An error in something the user gave us (a file, a flag, a key). The message names the
 * file, line and field, and says how to fix it; the CLI prints it without a stack trace (exit 2).
 */
export class InputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InputError';
  }
}

/**
 * A run that stopped, or could not start, for a reason the user can act on: a refused key, an
 * unknown model, an endpoint that does not answer, a worker serving another endpoint. Printed
 * without a stack trace (exit 3).
 */
export class RunStoppedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RunStoppedError';
  }
}
