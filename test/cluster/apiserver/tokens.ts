/**
 * Service-account tokens as the real API server issues them: RS256 JWTs with the `kubernetes.io` private claim
 * (namespace, service account, and for pod-bound tokens the pod and its node), checked for signature, expiry,
 * audience, and that the bound objects still exist with the same uid.
 */
import { createSign, createVerify, generateKeyPairSync, type KeyObject, randomUUID } from 'node:crypto';
import type { UserInfo } from './types.js';

const DEFAULT_ISSUER = 'https://kubernetes.default.svc.cluster.local';
export const DEFAULT_AUDIENCES = ['https://kubernetes.default.svc.cluster.local'];

interface Ref {
  name: string;
  uid: string;
}

export interface TokenClaims {
  aud: string[];
  exp: number;
  iat: number;
  nbf: number;
  iss: string;
  jti: string;
  sub: string;
  'kubernetes.io': {
    namespace: string;
    serviceaccount: Ref;
    pod?: Ref;
    secret?: Ref;
    node?: Ref;
    warnafter?: number;
  };
}

function b64url(data: Buffer | string): string {
  return Buffer.from(data).toString('base64url');
}

export interface MintInput {
  namespace: string;
  serviceAccount: Ref;
  audiences: string[];
  expirationSeconds: number;
  pod?: Ref;
  node?: Ref;
  secret?: Ref;
  nowSeconds: number;
}

export class TokenIssuer {
  private readonly privateKey: KeyObject;
  private readonly publicKey: KeyObject;
  readonly keyId: string;

  constructor(readonly issuer = DEFAULT_ISSUER) {
    const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    this.privateKey = privateKey;
    this.publicKey = publicKey;
    this.keyId = randomUUID().replace(/-/g, '').slice(0, 16);
  }

  mint(input: MintInput): { token: string; claims: TokenClaims } {
    const claims: TokenClaims = {
      aud: input.audiences,
      exp: input.nowSeconds + input.expirationSeconds,
      iat: input.nowSeconds,
      nbf: input.nowSeconds,
      iss: this.issuer,
      jti: randomUUID(),
      sub: `system:serviceaccount:${input.namespace}:${input.serviceAccount.name}`,
      'kubernetes.io': {
        namespace: input.namespace,
        serviceaccount: input.serviceAccount,
        ...(input.pod ? { pod: input.pod } : {}),
        ...(input.secret ? { secret: input.secret } : {}),
        ...(input.node ? { node: input.node } : {}),
      },
    };
    const header = b64url(JSON.stringify({ alg: 'RS256', kid: this.keyId }));
    const payload = b64url(JSON.stringify(claims));
    const signer = createSign('RSA-SHA256');
    signer.update(`${header}.${payload}`);
    return { token: `${header}.${payload}.${signer.sign(this.privateKey).toString('base64url')}`, claims };
  }

  /** Signature and time checks only; audiences and bound objects are checked by the caller. */
  verify(token: string, nowSeconds: number): TokenClaims | string {
    const parts = token.split('.');
    if (parts.length !== 3) return 'invalid bearer token';
    const verifier = createVerify('RSA-SHA256');
    verifier.update(`${parts[0]}.${parts[1]}`);
    let ok = false;
    try {
      ok = verifier.verify(this.publicKey, Buffer.from(parts[2], 'base64url'));
    } catch {
      ok = false;
    }
    if (!ok) return 'invalid bearer token, square/go-jose: error in cryptographic primitive';
    let claims: TokenClaims;
    try {
      claims = JSON.parse(Buffer.from(parts[1], 'base64url').toString('utf8')) as TokenClaims;
    } catch {
      return 'invalid bearer token';
    }
    if (claims.iss !== this.issuer) return 'invalid bearer token';
    if (claims.exp <= nowSeconds) return 'invalid bearer token, service account token has expired';
    if (claims.nbf > nowSeconds + 60) return 'invalid bearer token, service account token is not yet valid';
    return claims;
  }
}

/** The user a verified service-account token stands for, with the extra keys the real authenticator adds. */
export function serviceAccountUser(claims: TokenClaims): UserInfo {
  const k = claims['kubernetes.io'];
  const extra: Record<string, string[]> = {};
  if (k.pod) {
    extra['authentication.kubernetes.io/pod-name'] = [k.pod.name];
    extra['authentication.kubernetes.io/pod-uid'] = [k.pod.uid];
  }
  if (k.node) {
    extra['authentication.kubernetes.io/node-name'] = [k.node.name];
    if (k.node.uid) extra['authentication.kubernetes.io/node-uid'] = [k.node.uid];
  }
  extra['authentication.kubernetes.io/credential-id'] = [`JTI=${claims.jti}`];
  return {
    username: `system:serviceaccount:${k.namespace}:${k.serviceaccount.name}`,
    uid: k.serviceaccount.uid,
    groups: ['system:serviceaccounts', `system:serviceaccounts:${k.namespace}`, 'system:authenticated'],
    extra,
  };
}
