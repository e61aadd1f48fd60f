// The three text formats local data comes in: hosts files, dnsmasq lease files and record
// lines. Each parser returns what it read and, for every line it could not read, the line
// number and why; a bad line never stops the rest from loading.

import { nameKeyOf, parseIp, type ParsedAddress } from './names.ts';

export interface BadLine {
  /** 1-based; 0 for a record given on the command line or in the config file. */
  readonly line: number;
  readonly problem: string;
}

export interface HostsEntry {
  readonly address: ParsedAddress;
  /** Keys of the names, the first being the canonical one (the PTR's target). */
  readonly names: readonly string[];
  readonly line: number;
}

/** Lines without their comments, numbered from 1; blank ones left out. */
function* contentLines(text: string, comment: RegExp): Generator<[number, string]> {
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const content = lines[i].replace(comment, '').trim();
    if (content !== '') yield [i + 1, content];
  }
}

/** `IP NAME [ALIAS...]` lines with `#` comments, as /etc/hosts and odhcpd's hosts files have them. */
export function parseHosts(text: string): { entries: HostsEntry[]; bad: BadLine[] } {
  const entries: HostsEntry[] = [];
  const bad: BadLine[] = [];
  for (const [line, content] of contentLines(text, /#.*$/)) {
    const [ipText, ...nameTexts] = content.split(/\s+/);
    const address = parseIp(ipText);
    if (!address) {
      bad.push({ line, problem: `"${ipText}" is not an IP address` });
      continue;
    }
    if (nameTexts.length === 0) {
      bad.push({ line, problem: `${ipText} has no name` });
      continue;
    }
    const names: string[] = [];
    const wrong = nameTexts.find((t) => {
      const key = nameKeyOf(t);
      if (key !== null && !names.includes(key)) names.push(key);
      return key === null;
    });
    if (wrong !== undefined) {
      bad.push({ line, problem: `"${wrong}" is not a host name` });
      continue;
    }
    entries.push({ address, names, line });
  }
  return { entries, bad };
}

export interface Lease {
  readonly address: ParsedAddress;
  /** The host name's key as the client gave it (one label, usually). */
  readonly name: string;
  /** When the lease ends, in ms since the epoch; null: never (dnsmasq writes 0 for infinite leases). */
  readonly expiresAtMs: number | null;
  readonly line: number;
}

/**
 * dnsmasq's lease file: `EXPIRY MAC IP HOSTNAME CLIENTID`, EXPIRY in seconds since the epoch
 * (0: infinite), `*` for an unknown host name or client ID. DHCPv6 leases have the IAID where
 * the MAC is and an IPv6 address; the `duid` line names the server and holds no lease.
 */
export function parseLeases(text: string): { leases: Lease[]; bad: BadLine[]; unnamed: number } {
  const leases: Lease[] = [];
  const bad: BadLine[] = [];
  let unnamed = 0;
  for (const [line, content] of contentLines(text, /^$/)) {
    const fields = content.split(/\s+/);
    if (fields[0] === 'duid') continue;
    if (fields.length < 4 || fields.length > 5) {
      bad.push({ line, problem: `${fields.length} fields where EXPIRY MAC IP HOSTNAME [CLIENTID] has 4 or 5` });
      continue;
    }
    const [expiry, , ipText, host] = fields;
    if (!/^\d{1,12}$/.test(expiry)) {
      bad.push({ line, problem: `"${expiry}" is not an expiry time` });
      continue;
    }
    const address = parseIp(ipText);
    if (!address) {
      bad.push({ line, problem: `"${ipText}" is not an IP address` });
      continue;
    }
    if (host === '*') {
      unnamed++;
      continue;
    }
    const name = nameKeyOf(host);
    if (name === null) {
      bad.push({ line, problem: `"${host}" is not a host name` });
      continue;
    }
    const seconds = Number(expiry);
    leases.push({ address, name, expiresAtMs: seconds === 0 ? null : seconds * 1000, line });
  }
  return { leases, bad, unnamed };
}
