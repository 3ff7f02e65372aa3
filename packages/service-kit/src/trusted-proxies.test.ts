import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { z } from 'zod';
import { cidrList, createTrustedProxies, forwardedClient } from './trusted-proxies.js';

describe('createTrustedProxies', () => {
  it('matches IPv4 and IPv6 blocks, single addresses, and IPv4 peers of a dual-stack socket', () => {
    const trusted = createTrustedProxies(['10.0.0.0/8', 'fd00::/8', '192.0.2.7']);
    assert.equal(trusted.trusts('10.1.2.3'), true);
    assert.equal(trusted.trusts('::ffff:10.1.2.3'), true);
    assert.equal(trusted.trusts('11.0.0.1'), false);
    assert.equal(trusted.trusts('fd12::1'), true);
    assert.equal(trusted.trusts('fe80::1'), false);
    assert.equal(trusted.trusts('192.0.2.7'), true);
    assert.equal(trusted.trusts('192.0.2.8'), false);
    assert.equal(trusted.trusts('not an address'), false);
  });

  it('trusts nobody when the list is empty', () => {
    const none = createTrustedProxies([]);
    assert.equal(none.none, true);
    assert.equal(none.trusts('127.0.0.1'), false);
  });

  it('refuses what is not a block', () => {
    for (const bad of ['10.0.0.0/33', '10.0.0/8', 'fd00::/129', 'example.com', '10.0.0.1/8/1', '1.2.3.4/x']) {
      assert.throws(() => createTrustedProxies([bad]), /not an IP address or CIDR block/, bad);
    }
  });
});

describe('forwardedClient', () => {
  const trusted = createTrustedProxies(['10.0.0.0/8']);

  it('ignores X-Forwarded-For from a peer that is not trusted', () => {
    assert.equal(forwardedClient('203.0.113.5', '198.51.100.1', trusted), '203.0.113.5');
    assert.equal(forwardedClient('::ffff:203.0.113.5', '198.51.100.1', trusted), '203.0.113.5');
  });

  it('takes the rightmost address that is not a trusted proxy', () => {
    assert.equal(forwardedClient('10.0.0.2', '198.51.100.9, 203.0.113.5, 10.0.0.3', trusted), '203.0.113.5');
    assert.equal(forwardedClient('10.0.0.2', ['198.51.100.9', '203.0.113.5'], trusted), '203.0.113.5');
  });

  it('stops at a malformed entry with the last address a trusted hop vouched for', () => {
    assert.equal(forwardedClient('10.0.0.2', 'garbage, 10.0.0.3', trusted), '10.0.0.3');
    assert.equal(forwardedClient('10.0.0.2', 'garbage', trusted), '10.0.0.2');
    assert.equal(forwardedClient('10.0.0.2', undefined, trusted), '10.0.0.2');
  });

  it('answers the leftmost address when every hop is trusted', () => {
    assert.equal(forwardedClient('10.0.0.2', '10.0.0.9, 10.0.0.3', trusted), '10.0.0.9');
  });
});

describe('cidrList', () => {
  it('parses a comma-separated list and names every bad entry', () => {
    assert.deepEqual(cidrList().parse(' 10.0.0.0/8, ::1 ,'), ['10.0.0.0/8', '::1']);
    const result = z.object({ X: cidrList() }).safeParse({ X: '10.0.0.0/8,nope,1.2.3.4/40' });
    assert.equal(result.success, false);
    assert.deepEqual(
      result.error?.issues.map((issue) => issue.message),
      ["'nope' is not an IP address or CIDR block", "'1.2.3.4/40' is not an IP address or CIDR block"],
    );
  });
});
