/** What a role generator produces: the completion text and how it ended. */
export interface Generated {
  text: string;
  finishReason: 'stop' | 'length';
  malformed: boolean;
}
