import { type ServerUnaryCall, type sendUnaryData, status, type UntypedServiceImplementation } from '@grpc/grpc-js';
import { errorMessage } from '../../src/errors.js';
import type { Logger } from '../../src/log.js';
import type {
  Claim,
  NodePrepareResourceResponse,
  NodePrepareResourcesRequest,
  NodeUnprepareResourceResponse,
  NodeUnprepareResourcesRequest,
} from './protos.js';

/** Requests above this size are refused as a whole: no pod has that many claims, and the API would suffer. */
export const MAX_CLAIMS_PER_CALL = 1024;

/** What the node service needs of the driver: prepare and unprepare claims, one answer per claim UID. */
export interface ClaimHandler {
  prepare(claims: Claim[]): Promise<Record<string, NodePrepareResourceResponse>>;
  unprepare(claims: Claim[]): Promise<Record<string, NodeUnprepareResourceResponse>>;
}

/** The DRA node service's versions; v1beta1's responses lose `shareId` in its serializer (protos.ts). */
export type DraVersion = 'v1' | 'v1beta1';

/**
 * gRPC handlers of the DRA node service (FACTS.md §2). v1 and v1beta1 have the same shapes (v1beta1 lacks shareId)
 * and the same behaviour: both call the driver's one ClaimHandler. A whole-call gRPC error only for what is wrong with the
 * call itself (too many claims) or with the node (checkpoint cannot be written); everything about one claim goes in
 * that claim's `error`.
 */
export function nodeServiceImplementation(
  preparer: ClaimHandler,
  version: DraVersion,
  log: Logger,
): UntypedServiceImplementation {
  /** One handler of the service: refuses an oversized call, else answers with the driver's per-claim results. */
  const handler =
    <Response>(what: string, handle: (claims: Claim[]) => Promise<Record<string, Response>>) =>
    (
      call: ServerUnaryCall<
        NodePrepareResourcesRequest | NodeUnprepareResourcesRequest,
        { claims: Record<string, Response> }
      >,
      callback: sendUnaryData<{ claims: Record<string, Response> }>,
    ) => {
      const claims = call.request.claims ?? [];
      if (claims.length > MAX_CLAIMS_PER_CALL) {
        return callback({
          code: status.INVALID_ARGUMENT,
          details: `request has ${claims.length} claims; at most ${MAX_CLAIMS_PER_CALL} per call`,
        });
      }
      handle(claims).then(
        (responses) => callback(null, { claims: responses }),
        (error: unknown) => {
          log.error({ version, error: String(error) }, `${what} failed as a whole`);
          callback({ code: status.INTERNAL, details: `${what}: ${errorMessage(error)}` });
        },
      );
    };
  return {
    NodePrepareResources: handler('NodePrepareResources', (claims) => preparer.prepare(claims)),
    NodeUnprepareResources: handler('NodeUnprepareResources', (claims) => preparer.unprepare(claims)),
  };
}
