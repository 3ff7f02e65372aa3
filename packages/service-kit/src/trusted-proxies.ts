import { BlockList, isIP } from 'node:net';
import { z } from 'zod';

/** Who may tell us the client's address in `X-Forwarded-For`; built by {@link createTrustedProxies}. */
export interface TrustedProxies {
  /** True when `address` (a peer or a forwarded entry) is one of the trusted proxies. */
  trusts(address: string): boolean;
  /** No proxy is trusted: every forwarded header is ignored. */
  readonly none: boolean;
}

/** Forwarded entries examined at most: more hops than this are not a real chain. */
const MAX_HOPS = 32;

/** `::ffff:10.0.0.1` (how a dual-stack socket reports an IPv4 peer) → `10.0.0.1`; anything else unchanged. */
export function plainAddress(address: string): string {
  return address.startsWith('::ffff:') && isIP(address.slice(7)) === 4 ? address.slice(7) : address;
}

/** Splits `10.0.0.0/8` or `::1` into address and prefix; undefined when it is neither. */
function parseCidr(text: string): { address: string; prefix: number; family: 'ipv4' | 'ipv6' } | undefined {
  const [rawAddress = '', rawPrefix, ...rest] = text.trim().split('/');
  const address = plainAddress(rawAddress);
  const version = isIP(address);
  if (version === 0 || rest.length > 0) return undefined;
  const max = version === 4 ? 32 : 128;
  const prefix = rawPrefix === undefined ? max : /^\d{1,3}$/.test(rawPrefix) ? Number(rawPrefix) : NaN;
  if (!(prefix >= 0 && prefix <= max)) return undefined;
  return { address, prefix, family: version === 4 ? 'ipv4' : 'ipv6' };
}

/** Matches addresses against CIDR blocks (`10.0.0.0/8`, `fd00::/8`, or a single address). */
export function createTrustedProxies(cidrs: readonly string[]): TrustedProxies {
  const list = new BlockList();
  for (const cidr of cidrs) {
    const parsed = parseCidr(cidr);
    if (parsed === undefined) throw new Error(`'${cidr}' is not an IP address or CIDR block`);
    list.addSubnet(parsed.address, parsed.prefix, parsed.family);
  }
  const none = cidrs.length === 0;
  return {
    none,
    trusts: (address) => {
      if (none) return false;
      const plain = plainAddress(address);
      const version = isIP(plain);
      return version !== 0 && list.check(plain, version === 4 ? 'ipv4' : 'ipv6');
    },
  };
}

/**
 * The client's address: the TCP peer, unless the peer is a trusted proxy, in which case
 * `X-Forwarded-For` is read from the right (each proxy appends the peer it saw) and the first
 * address that is not a trusted proxy is the client. Entries left of it were written by the client
 * and prove nothing. A malformed entry ends the walk at the last address a trusted hop vouched for.
 */
export function forwardedClient(peer: string, forwardedFor: string | readonly string[] | undefined, trusted: TrustedProxies): string {
  const client = plainAddress(peer);
  if (forwardedFor === undefined || !trusted.trusts(client)) return client;
  const entries = (typeof forwardedFor === 'string' ? forwardedFor : forwardedFor.join(',')).split(',');
  let candidate = client;
  for (let i = entries.length - 1, hops = 0; i >= 0 && hops < MAX_HOPS; i--, hops++) {
    const entry = plainAddress((entries[i] ?? '').trim());
    if (isIP(entry) === 0) break;
    candidate = entry;
    if (!trusted.trusts(entry)) break;
  }
  return candidate;
}

/**
 * A comma-separated list of CIDR blocks or addresses in a setting (`10.0.0.0/8, fd00::/8`),
 * validated at start-up; empty or unset is an empty list.
 */
export const cidrList = () =>
  z
    .string()
    .transform((text, ctx) => {
      const parts = text
        .split(',')
        .map((part) => part.trim())
        .filter((part) => part !== '');
      for (const part of parts.filter((p) => parseCidr(p) === undefined)) {
        ctx.addIssue({ code: 'custom', message: `'${part}' is not an IP address or CIDR block` });
      }
      return parts;
    });
