/**
 * The DNS wire format the rfc2136 solver needs, written here: an UPDATE message (RFC 2136) adding or
 * deleting one TXT record, signed with TSIG (RFC 8945, HMAC-SHA256/384/512), the answer's rcode and
 * TSIG error read back and its MAC verified, and a TXT query to see the record served.
 */
import { createHmac, randomInt, timingSafeEqual } from "node:crypto";

export const RCODES: Record<number, string> = {
  0: "NOERROR",
  1: "FORMERR",
  2: "SERVFAIL",
  3: "NXDOMAIN",
  4: "NOTIMP",
  5: "REFUSED",
  6: "YXDOMAIN",
  7: "YXRRSET",
  8: "NXRRSET",
  9: "NOTAUTH",
  10: "NOTZONE",
  16: "BADSIG",
  17: "BADKEY",
  18: "BADTIME",
};

export const TSIG_ALGORITHMS = { "hmac-sha256": "sha256", "hmac-sha384": "sha384", "hmac-sha512": "sha512" };
export type TsigAlgorithm = keyof typeof TSIG_ALGORITHMS;

export interface TsigKey {
  name: string;
  algorithm: TsigAlgorithm;
  /** The shared secret (raw bytes, from the base64 in the server's key statement). */
  secret: Uint8Array;
}

const TYPE_SOA = 6;
const TYPE_TXT = 16;
const TYPE_TSIG = 250;
const CLASS_IN = 1;
const CLASS_NONE = 254;
const CLASS_ANY = 255;
const FUDGE = 300;

/** A name in wire form (lower case, uncompressed); throws naming a label that is too long. */
export function nameToWire(name: string): Buffer {
  const labels = name.replace(/\.$/, "").toLowerCase().split(".").filter(Boolean);
  const parts: Buffer[] = [];
  for (const l of labels) {
    const b = Buffer.from(l, "ascii");
    if (b.length > 63) throw new Error(`DNS name ${name}: label "${l}" is longer than 63 bytes`);
    parts.push(Buffer.from([b.length]), b);
  }
  parts.push(Buffer.from([0]));
  return Buffer.concat(parts);
}

const u16 = (n: number) => {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(n);
  return b;
};
const u32 = (n: number) => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n);
  return b;
};
const u48 = (n: number) => {
  const b = Buffer.alloc(6);
  b.writeUIntBE(n, 0, 6);
  return b;
};

function txtRdata(value: string): Buffer {
  const bytes = Buffer.from(value, "utf8");
  const parts: Buffer[] = [];
  for (let i = 0; i < bytes.length || i === 0; i += 255) {
    const chunk = bytes.subarray(i, i + 255);
    parts.push(Buffer.from([chunk.length]), chunk);
  }
  return Buffer.concat(parts);
}

function rr(name: string, type: number, klass: number, ttl: number, rdata: Buffer): Buffer {
  return Buffer.concat([nameToWire(name), u16(type), u16(klass), u32(ttl), u16(rdata.length), rdata]);
}

function tsigVariables(key: TsigKey, timeSigned: number, error = 0): Buffer {
  return Buffer.concat([
    nameToWire(key.name),
    u16(CLASS_ANY),
    u32(0),
    nameToWire(key.algorithm),
    u48(timeSigned),
    u16(FUDGE),
    u16(error),
    u16(0),
  ]);
}

function hmac(key: TsigKey, ...parts: Buffer[]): Buffer {
  const h = createHmac(TSIG_ALGORITHMS[key.algorithm], key.secret);
  for (const p of parts) h.update(p);
  return h.digest();
}

/** A signed UPDATE: its bytes, its id and the request MAC (the answer's MAC covers it). */
export interface SignedMessage {
  bytes: Buffer;
  id: number;
  mac: Buffer;
}

/** An UPDATE of `zone` adding (`add`) or deleting (`delete`) the TXT record `fqdn` = `value`, TSIG-signed. */
export function buildTxtUpdate(opts: {
  zone: string;
  fqdn: string;
  value: string;
  op: "add" | "delete";
  ttl: number;
  key: TsigKey;
  now?: Date;
}): SignedMessage {
  const id = randomInt(0, 0x10000);
  const update =
    opts.op === "add"
      ? rr(opts.fqdn, TYPE_TXT, CLASS_IN, opts.ttl, txtRdata(opts.value))
      : rr(opts.fqdn, TYPE_TXT, CLASS_NONE, 0, txtRdata(opts.value));
  const header = Buffer.concat([u16(id), u16(5 << 11), u16(1), u16(0), u16(1), u16(0)]);
  const zone = Buffer.concat([nameToWire(opts.zone), u16(TYPE_SOA), u16(CLASS_IN)]);
  const unsigned = Buffer.concat([header, zone, update]);
  const timeSigned = Math.floor((opts.now ?? new Date()).getTime() / 1000);
  const mac = hmac(opts.key, unsigned, tsigVariables(opts.key, timeSigned));
  const tsigRdata = Buffer.concat([
    nameToWire(opts.key.algorithm),
    u48(timeSigned),
    u16(FUDGE),
    u16(mac.length),
    mac,
    u16(id),
    u16(0),
    u16(0),
  ]);
  const signed = Buffer.concat([unsigned, rr(opts.key.name, TYPE_TSIG, CLASS_ANY, 0, tsigRdata)]);
  signed.writeUInt16BE(1, 10); // ARCOUNT: the TSIG record
  return { bytes: signed, id, mac };
}

/** A TXT query for `fqdn` (no recursion wanted). */
export function buildTxtQuery(fqdn: string): { bytes: Buffer; id: number } {
  const id = randomInt(0, 0x10000);
  const header = Buffer.concat([u16(id), u16(0), u16(1), u16(0), u16(0), u16(0)]);
  return { bytes: Buffer.concat([header, nameToWire(fqdn), u16(TYPE_TXT), u16(CLASS_IN)]), id };
}

/** Skips a (possibly compressed) name at `off`; returns the offset after it. */
function skipName(msg: Buffer, off: number): number {
  for (let guard = 0; guard < 128; guard++) {
    const len = msg[off];
    if (len === undefined) throw new Error("DNS answer: truncated name");
    if (len === 0) return off + 1;
    if ((len & 0xc0) === 0xc0) return off + 2;
    off += 1 + len;
  }
  throw new Error("DNS answer: name too long");
}

interface ParsedRecord {
  type: number;
  start: number;
  rdata: Buffer;
}

/** The answer's header fields and records (answer and additional sections). */
export function parseAnswer(msg: Buffer): {
  id: number;
  rcode: number;
  answers: ParsedRecord[];
  tsig?: ParsedRecord;
} {
  if (msg.length < 12) throw new Error(`DNS answer: ${msg.length} bytes, shorter than a header`);
  const id = msg.readUInt16BE(0);
  const rcode = msg.readUInt16BE(2) & 0xf;
  const counts = [msg.readUInt16BE(4), msg.readUInt16BE(6), msg.readUInt16BE(8), msg.readUInt16BE(10)];
  let off = 12;
  for (let i = 0; i < (counts[0] ?? 0); i++) off = skipName(msg, off) + 4;
  const records: ParsedRecord[] = [];
  const total = (counts[1] ?? 0) + (counts[2] ?? 0) + (counts[3] ?? 0);
  for (let i = 0; i < total; i++) {
    const start = off;
    off = skipName(msg, off);
    if (off + 10 > msg.length) throw new Error("DNS answer: truncated record");
    const type = msg.readUInt16BE(off);
    const rdlen = msg.readUInt16BE(off + 8);
    const rdata = msg.subarray(off + 10, off + 10 + rdlen);
    off += 10 + rdlen;
    records.push({ type, start, rdata });
  }
  const last = records[records.length - 1];
  const tsig = last?.type === TYPE_TSIG ? last : undefined;
  return { id, rcode, answers: records.filter((r) => r.type !== TYPE_TSIG), tsig };
}

/** The strings of TXT records in an answer. */
export function txtValues(records: readonly ParsedRecord[]): string[] {
  return records
    .filter((r) => r.type === TYPE_TXT)
    .map((r) => {
      const out: Buffer[] = [];
      for (let i = 0; i < r.rdata.length; ) {
        const len = r.rdata[i] ?? 0;
        out.push(r.rdata.subarray(i + 1, i + 1 + len));
        i += 1 + len;
      }
      return Buffer.concat(out).toString("utf8");
    });
}

/**
 * Reads an UPDATE's answer: the rcode, and with a TSIG record its error; checks the answer's MAC
 * (over the request MAC, the answer without its TSIG record and the TSIG variables). Returns "" when
 * the update was applied and signed back, else the problem.
 */
export function checkUpdateAnswer(msg: Buffer, request: SignedMessage, key: TsigKey): string {
  const a = parseAnswer(msg);
  if (a.id !== request.id) return `answer id ${a.id} does not match the request's ${request.id}`;
  let tsigError = 0;
  let macOk = false;
  if (a.tsig) {
    const rd = a.tsig.rdata;
    const algEnd = skipName(rd, 0);
    const timeSigned = rd.readUIntBE(algEnd, 6);
    const macLen = rd.readUInt16BE(algEnd + 8);
    const mac = rd.subarray(algEnd + 10, algEnd + 10 + macLen);
    tsigError = rd.readUInt16BE(algEnd + 10 + macLen + 2);
    if (macLen > 0) {
      const unsigned = Buffer.from(msg.subarray(0, a.tsig.start));
      unsigned.writeUInt16BE(unsigned.readUInt16BE(10) - 1, 10);
      const expected = hmac(
        key,
        u16(request.mac.length),
        request.mac,
        unsigned,
        tsigVariables(key, timeSigned, tsigError),
      );
      macOk = expected.length === mac.length && timingSafeEqual(expected, mac);
    }
  }
  if (tsigError !== 0)
    return `the server refused the TSIG signature of key ${key.name}: ${RCODES[tsigError] ?? tsigError} (rcode ${RCODES[a.rcode] ?? a.rcode}); check the key name, algorithm and secret`;
  if (a.rcode !== 0) return `the server answered ${RCODES[a.rcode] ?? `rcode ${a.rcode}`}`;
  if (!a.tsig) return "the server's answer is not TSIG-signed";
  if (!macOk) return "the server's answer has a TSIG MAC that does not verify with the key";
  return "";
}
