import { promisify } from 'node:util';
import { deflateRaw, inflateRaw, constants } from 'node:zlib';
import type { Payload, PayloadCodec } from '@temporalio/common';
// A CommonJS module: its namespace comes through the default export under Node's ESM loader.
import proto from '@temporalio/proto';

const deflate = promisify(deflateRaw);
const inflate = promisify(inflateRaw);

/** The encoding a compressed payload carries; any other payload passes through untouched. */
export const COMPRESSED_ENCODING = 'binary/flask-deflate';
/** Below this a payload is left as it is: small ones stay readable in the Temporal UI. */
export const COMPRESS_ABOVE_BYTES = 8 * 1024;

const ProtoPayload = proto.temporal.api.common.v1.Payload;
const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * Deflates large payloads (chunks of instance texts, their outcomes, heartbeat checkpoints):
 * FLASK's texts shrink ~4x, which keeps a chunk far from Temporal's 2 MiB blob limit and cuts
 * what the server writes to its history. The whole original payload (metadata included) is
 * what gets compressed, so decoding restores it exactly. Old, uncompressed histories decode as
 * they are.
 */
export class CompressionCodec implements PayloadCodec {
  constructor(private readonly aboveBytes = COMPRESS_ABOVE_BYTES) {}

  async encode(payloads: Payload[]): Promise<Payload[]> {
    return Promise.all(payloads.map(async (p) => {
      if ((p.data?.length ?? 0) < this.aboveBytes) return p;
      const packed = await deflate(ProtoPayload.encode(p).finish(), { level: constants.Z_BEST_SPEED });
      return { metadata: { encoding: encoder.encode(COMPRESSED_ENCODING) }, data: new Uint8Array(packed) };
    }));
  }

  async decode(payloads: Payload[]): Promise<Payload[]> {
    return Promise.all(payloads.map(async (p) => {
      const enc = p.metadata?.encoding;
      if (!enc || decoder.decode(enc) !== COMPRESSED_ENCODING) return p;
      return ProtoPayload.decode(await inflate(p.data ?? new Uint8Array())) as Payload;
    }));
  }
}

/** The data converter of every client and worker of flask-eval: they must agree on it. */
export const dataConverter = { payloadCodecs: [new CompressionCodec()] };
