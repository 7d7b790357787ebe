/** The messages and sampling settings of one chat call: what a provider receives. */
export interface ChatMessage {
  role: 'system' | 'user' | 'assistant';
  content: string;
}

export interface ChatRequest {
  messages: ChatMessage[];
  temperature: number;
  maxTokens: number;
  /** nucleus sampling (OpenAI's top_p); sent only when set */
  topP?: number;
  seed?: number;
}
