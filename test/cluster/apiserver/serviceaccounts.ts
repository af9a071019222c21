/**
 * Authentication and the two token endpoints: TokenRequest (serviceaccounts/<name>/token) and TokenReview.
 * Static bearer tokens stand for the admin and named users; JWTs from TokenIssuer stand for service accounts.
 */
import { badRequest, conflict, invalid, notFound } from './errors.js';
import type { Registry } from './registry.js';
import { DEFAULT_AUDIENCES, serviceAccountUser, type TokenClaims, type TokenIssuer } from './tokens.js';
import { isRecord, type KubeObject, type UserInfo } from './types.js';

export class Authenticator {
  private readonly staticTokens = new Map<string, UserInfo>();

  constructor(
    private readonly registry: Registry,
    readonly issuer: TokenIssuer,
    readonly apiAudiences: string[] = DEFAULT_AUDIENCES,
    private readonly clock: () => number = Date.now,
  ) {}

  addStaticToken(token: string, user: UserInfo): void {
    this.staticTokens.set(token, user);
  }

  tokenFor(username: string): string | undefined {
    for (const [token, user] of this.staticTokens) if (user.username === username) return token;
    return undefined;
  }

  /** The user of a bearer token, or the reason it is refused. */
  authenticate(
    token: string,
    audiences: string[] = this.apiAudiences,
  ): { user: UserInfo; audiences: string[] } | string {
    const user = this.staticTokens.get(token);
    if (user) return { user, audiences };
    const claims = this.issuer.verify(token, Math.floor(this.clock() / 1000));
    if (typeof claims === 'string') return claims;
    const matched = claims.aud.filter((a) => audiences.includes(a));
    if (matched.length === 0)
      return `invalid bearer token, token audiences ${JSON.stringify(claims.aud)} is invalid for the target audiences ${JSON.stringify(audiences)}`;
    const stale = this.checkBoundObjects(claims);
    if (stale) return `invalid bearer token, ${stale}`;
    return { user: serviceAccountUser(claims), audiences: matched };
  }

  /** The real authenticator refuses a token whose service account or bound pod is gone or was recreated. */
  private checkBoundObjects(claims: TokenClaims): string | undefined {
    const k = claims['kubernetes.io'];
    const sa = this.registry.store.get('serviceaccounts', k.namespace, k.serviceaccount.name);
    if (!sa) return `service account ${k.namespace}/${k.serviceaccount.name} has been deleted`;
    if (sa.metadata.uid !== k.serviceaccount.uid)
      return `service account UID (${k.serviceaccount.uid}) does not match claim (${sa.metadata.uid})`;
    if (k.pod) {
      const pod = this.registry.store.get('pods', k.namespace, k.pod.name);
      if (!pod) return `pod ${k.namespace}/${k.pod.name} has been deleted`;
      if (pod.metadata.uid !== k.pod.uid) return `pod UID (${k.pod.uid}) does not match claim (${pod.metadata.uid})`;
    }
    return undefined;
  }

  /** POST /api/v1/namespaces/<ns>/serviceaccounts/<name>/token */
  tokenRequest(namespace: string, saName: string, body: unknown): KubeObject {
    const sa = this.registry.store.get('serviceaccounts', namespace, saName);
    if (!sa) throw notFound('', 'serviceaccounts', saName);
    if (!isRecord(body)) throw badRequest('the body of the request must be a JSON object');
    const spec = isRecord(body.spec) ? body.spec : {};
    const audiences =
      Array.isArray(spec.audiences) && spec.audiences.length > 0 ? spec.audiences.map(String) : this.apiAudiences;
    const expirationSeconds = typeof spec.expirationSeconds === 'number' ? spec.expirationSeconds : 3600;
    if (expirationSeconds < 600)
      throw invalid('authentication.k8s.io', 'TokenRequest', saName, [
        {
          type: 'FieldValueInvalid',
          field: 'spec.expirationSeconds',
          value: expirationSeconds,
          detail: 'may not specify a duration less than 10 minutes',
        },
      ]);
    let pod: { name: string; uid: string } | undefined;
    let node: { name: string; uid: string } | undefined;
    let secret: { name: string; uid: string } | undefined;
    const ref = isRecord(spec.boundObjectRef) ? spec.boundObjectRef : undefined;
    if (ref) {
      const kind = String(ref.kind ?? '');
      const name = String(ref.name ?? '');
      const resource = kind === 'Pod' ? 'pods' : kind === 'Secret' ? 'secrets' : kind === 'Node' ? 'nodes' : undefined;
      if (!resource)
        throw badRequest(`cannot bind token to object of type ${kind}: only Pod, Secret and Node are supported`);
      const target = this.registry.store.get(resource, resource === 'nodes' ? undefined : namespace, name);
      if (!target) throw notFound('', resource, name);
      if (ref.uid && ref.uid !== target.metadata.uid)
        throw conflict(
          '',
          resource,
          name,
          `the UID in the bound object reference (${String(ref.uid)}) does not match the UID in record. The object might have been deleted and then recreated`,
        );
      const bound = { name, uid: target.metadata.uid ?? '' };
      if (kind === 'Pod') {
        pod = bound;
        const nodeName = isRecord(target.spec) ? target.spec.nodeName : undefined;
        if (typeof nodeName === 'string' && nodeName) {
          const n = this.registry.store.get('nodes', undefined, nodeName);
          node = { name: nodeName, uid: n?.metadata.uid ?? '' };
        }
      } else if (kind === 'Node') node = bound;
      else secret = bound;
    }
    const nowSeconds = Math.floor(this.clock() / 1000);
    const { token, claims } = this.issuer.mint({
      namespace,
      serviceAccount: { name: saName, uid: sa.metadata.uid ?? '' },
      audiences,
      expirationSeconds,
      pod,
      node,
      secret,
      nowSeconds,
    });
    return {
      kind: 'TokenRequest',
      apiVersion: 'authentication.k8s.io/v1',
      metadata: { name: saName, namespace, creationTimestamp: null as unknown as string },
      spec: { ...spec, audiences, expirationSeconds, boundObjectRef: ref ?? null },
      status: { token, expirationTimestamp: `${new Date(claims.exp * 1000).toISOString().slice(0, 19)}Z` },
    };
  }

  /** POST /apis/authentication.k8s.io/v1/tokenreviews */
  tokenReview(body: unknown): KubeObject {
    if (!isRecord(body) || !isRecord(body.spec) || typeof body.spec.token !== 'string' || body.spec.token === '')
      throw invalid('authentication.k8s.io', 'TokenReview', '', [
        { type: 'FieldValueRequired', field: 'spec.token', detail: '' },
      ]);
    const audiences =
      Array.isArray(body.spec.audiences) && body.spec.audiences.length > 0
        ? body.spec.audiences.map(String)
        : this.apiAudiences;
    const result = this.authenticate(body.spec.token, audiences);
    const status =
      typeof result === 'string'
        ? { authenticated: false, user: {}, error: `[${result}, token lookup failed]` }
        : { authenticated: true, user: result.user, audiences: result.audiences };
    return {
      kind: 'TokenReview',
      apiVersion: 'authentication.k8s.io/v1',
      metadata: { creationTimestamp: null as unknown as string },
      spec: body.spec,
      status,
    };
  }
}
