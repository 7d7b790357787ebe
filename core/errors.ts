/**
 * An error in something the user gave us (a file, a flag, a key). The message names the
 * file, line and field, and says how to fix it; the CLI prints it without a stack trace.
 */
export class InputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InputError';
  }
}
