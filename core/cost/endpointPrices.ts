/**
 * Which prices hold at an endpoint. data/prices.json lists OpenAI's API rates: a model of the same
 * name served elsewhere (llama.cpp, vLLM, Ollama, a proxy, another provider) is not billed at
 * them — a local judge that answers to "gpt-4-0613" costs no API fee. There, only a price the user
 * gave (--prices FILE) is used; without one the cost is n/a, never guessed.
 */
import { OPENAI_BASE_URL } from '../provider/endpoint.js';
import type { PriceTable } from './pricing.js';

const OPENAI_HOST = new URL(OPENAI_BASE_URL).host;

/** The endpoint's host when it is not OpenAI's API (undefined: OpenAI's API, the table's own prices hold). */
function foreignHost(baseURL: string | undefined): string | undefined {
  if (baseURL === undefined) return undefined;
  let host: string;
  try {
    host = new URL(baseURL).host;
  } catch {
    return baseURL;
  }
  return host === OPENAI_HOST ? undefined : host;
}

/** The table cut to the models the user priced (--prices FILE): what holds at an endpoint other than OpenAI's API. */
export function userPrices(prices: PriceTable): PriceTable {
  const own = prices.overrideModels.filter((m) => Object.hasOwn(prices.models, m));
  return { ...prices, models: Object.fromEntries(own.map((m) => [m, prices.models[m]!])) };
}

export function pricesAtEndpoint(model: string, baseURL: string | undefined, prices: PriceTable): { table: PriceTable; host?: string; note?: string } {
  const host = foreignHost(baseURL);
  if (host === undefined) return { table: prices };
  const table = userPrices(prices);
  const priced = Object.hasOwn(table.models, model);
  return {
    table, host,
    note: `${model} is served at ${host}, not ${OPENAI_HOST}: not priced at OpenAI's rates` +
      (priced ? ` (priced from ${prices.files.at(-1)})` : '; cost n/a (a local server has no per-token fee; give its price with --prices FILE)'),
  };
}
