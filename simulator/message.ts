/** A message reduced to what identifies a request's content: role and text. */
export interface Msg {
  role: string;
  text: string;
}
