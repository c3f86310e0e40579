/**
 * IPFIX (RFC 7011) message decoding, pure: the message header, template and options template sets
 * (kept per observation domain in a TemplateCache the caller owns, one per exporter), and data sets
 * decoded with those templates into the flow fields the hub reads. Untrusted bytes: every length is
 * checked against what is left, and a malformed message throws an IpfixError naming the problem
 * (nothing is half-applied: templates of a bad message are not kept).
 */
import { formatIpv6 } from "../network/addresses.ts";

export class IpfixError extends Error {}

/** The information elements the hub reads (IANA IPFIX registry numbers). */
export const IE = {
  octetDeltaCount: 1,
  packetDeltaCount: 2,
  protocolIdentifier: 4,
  sourceIPv4Address: 8,
  destinationIPv4Address: 12,
  sourceIPv6Address: 27,
  destinationIPv6Address: 28,
  octetTotalCount: 85,
  packetTotalCount: 86,
  ethernetType: 256,
} as const;

export interface FieldSpec {
  id: number;
  /** Bytes, or 65535 for a variable-length field. */
  length: number;
  enterprise?: number;
}

export interface Template {
  id: number;
  fields: FieldSpec[];
  /** Options templates: how many leading fields are scope fields. */
  scopeCount?: number;
}

/** Templates seen per observation domain (RFC 7011 section 8: scoped to the exporter and domain). */
export class TemplateCache {
  readonly #byDomain = new Map<number, Map<number, Template>>();
  get(domain: number, id: number): Template | undefined {
    return this.#byDomain.get(domain)?.get(id);
  }
  /** Keeps `t`; false (nothing kept) when the cache is full: MAX_DOMAINS domains or MAX_TEMPLATES templates. */
  set(domain: number, t: Template): boolean {
    let d = this.#byDomain.get(domain);
    if (!d) {
      if (this.#byDomain.size >= MAX_DOMAINS) return false;
      d = new Map<number, Template>();
      this.#byDomain.set(domain, d);
    }
    if (!d.has(t.id) && this.size >= MAX_TEMPLATES) return false;
    d.set(t.id, t);
    return true;
  }
  withdraw(domain: number, id: number) {
    this.#byDomain.get(domain)?.delete(id);
  }
  get size(): number {
    let n = 0;
    for (const d of this.#byDomain.values()) n += d.size;
    return n;
  }
}

export interface Flow {
  templateId: number;
  source: string;
  destination: string;
  protocol: number;
  ethernetType: number;
  packets: bigint;
  octets: bigint;
}

export interface Message {
  exportTime: number;
  sequence: number;
  domain: number;
  /** Template and options template records read from this message and kept. */
  templates: number;
  /** Templates not kept: the exporter's cache is full (MAX_TEMPLATES, MAX_DOMAINS). */
  templatesRefused: number;
  /** Data records of templates this message or an earlier one defined. */
  flows: Flow[];
  /** Data records of options templates (exporter statistics), counted, not decoded. */
  optionRecords: number;
  /** Data sets whose template is unknown (not yet seen, or withdrawn): skipped. */
  unknownSets: number[];
}

const ADDRESS_IES = new Set<number>([
  IE.sourceIPv4Address,
  IE.destinationIPv4Address,
  IE.sourceIPv6Address,
  IE.destinationIPv6Address,
]);
/** Templates kept per exporter (all its domains), and domains per exporter: a sender cannot grow them. */
export const MAX_TEMPLATES = 512;
export const MAX_DOMAINS = 16;

const VERSION = 10;
const HEADER = 16;
const VARIABLE = 65535;

/** Reads `n` bytes at `at` of `buf`, or throws naming what was cut short. */
function need(buf: Uint8Array, at: number, n: number, what: string) {
  if (at + n > buf.length)
    throw new IpfixError(`${what}: ${n} bytes at offset ${at}, only ${buf.length - at} left`);
}

function parseTemplates(body: DataView, options: boolean, setAt: number): Template[] {
  const out: Template[] = [];
  const bytes = new Uint8Array(body.buffer, body.byteOffset, body.byteLength);
  let o = 0;
  // Anything shorter than a record header at the end is padding.
  while (o + 4 <= body.byteLength) {
    const id = body.getUint16(o);
    const count = body.getUint16(o + 2);
    o += 4;
    if (id < 256) throw new IpfixError(`template id ${id} in the set at offset ${setAt}: must be >= 256`);
    let scopeCount: number | undefined;
    if (options && count > 0) {
      need(bytes, o, 2, `options template ${id}'s scope count`);
      scopeCount = body.getUint16(o);
      o += 2;
      if (scopeCount === 0 || scopeCount > count)
        throw new IpfixError(`options template ${id}: scope count ${scopeCount} of ${count} fields`);
    }
    const fields: FieldSpec[] = [];
    for (let i = 0; i < count; i++) {
      need(bytes, o, 4, `template ${id}'s field ${i}`);
      const raw = body.getUint16(o);
      const length = body.getUint16(o + 2);
      o += 4;
      if (length === 0) throw new IpfixError(`template ${id}'s field ${i}: length 0`);
      let enterprise: number | undefined;
      if (raw & 0x8000) {
        need(bytes, o, 4, `template ${id}'s field ${i} enterprise number`);
        enterprise = body.getUint32(o);
        o += 4;
      }
      fields.push({ id: raw & 0x7fff, length, ...(enterprise === undefined ? {} : { enterprise }) });
    }
    out.push({ id, fields, ...(scopeCount === undefined ? {} : { scopeCount }) });
  }
  return out;
}

const unsigned = (b: Uint8Array): bigint => {
  let v = 0n;
  for (const x of b) v = (v << 8n) | BigInt(x);
  return v;
};

const address = (b: Uint8Array): string => {
  if (b.length === 4) return b.join(".");
  if (b.length === 16) {
    const groups: number[] = [];
    for (let i = 0; i < 16; i += 2) groups.push(((b[i] ?? 0) << 8) | (b[i + 1] ?? 0));
    return formatIpv6(groups);
  }
  return "";
};

/** Decodes the records of one data set; a record shorter than the template ends the set (padding). */
function decodeData(t: Template, body: Uint8Array): Flow[] {
  const out: Flow[] = [];
  const fixed = t.fields.every((f) => f.length !== VARIABLE);
  const minLength = t.fields.reduce((n, f) => n + (f.length === VARIABLE ? 1 : f.length), 0);
  let o = 0;
  while (o + minLength <= body.length && (fixed || o < body.length)) {
    const flow: Flow = {
      templateId: t.id,
      source: "",
      destination: "",
      protocol: 0,
      ethernetType: 0,
      packets: 0n,
      octets: 0n,
    };
    for (const [i, f] of t.fields.entries()) {
      let len = f.length;
      if (len === VARIABLE) {
        need(body, o, 1, `template ${t.id}'s field ${i} length`);
        len = body[o] ?? 0;
        o += 1;
        if (len === 255) {
          need(body, o, 2, `template ${t.id}'s field ${i} long length`);
          len = ((body[o] ?? 0) << 8) | (body[o + 1] ?? 0);
          o += 2;
        }
      }
      need(body, o, len, `template ${t.id}'s field ${i} (information element ${f.id})`);
      const v = body.subarray(o, o + len);
      o += len;
      // Only fields of the sizes the registry gives them are read: numbers up to 8 bytes, addresses 4
      // or 16; anything else (an exporter's odd or hostile encoding) is skipped, never parsed.
      if (f.enterprise !== undefined || len > 16 || (len > 8 && !ADDRESS_IES.has(f.id))) continue;
      switch (f.id) {
        case IE.sourceIPv4Address:
        case IE.sourceIPv6Address:
          flow.source = address(v);
          break;
        case IE.destinationIPv4Address:
        case IE.destinationIPv6Address:
          flow.destination = address(v);
          break;
        case IE.protocolIdentifier:
          flow.protocol = Number(unsigned(v));
          break;
        case IE.ethernetType:
          flow.ethernetType = Number(unsigned(v));
          break;
        case IE.packetDeltaCount:
          flow.packets += unsigned(v);
          break;
        case IE.octetDeltaCount:
          flow.octets += unsigned(v);
          break;
      }
    }
    out.push(flow);
  }
  return out;
}

/**
 * Decodes one IPFIX message (one UDP datagram), keeping the templates it defines in `cache`. Throws an
 * IpfixError for anything malformed; the cache is changed only when the whole message parsed.
 */
export function decodeMessage(buf: Uint8Array, cache: TemplateCache): Message {
  need(buf, 0, HEADER, "message header");
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const version = view.getUint16(0);
  if (version !== VERSION) throw new IpfixError(`version ${version}: only IPFIX (10) is read`);
  const length = view.getUint16(2);
  if (length < HEADER || length > buf.length)
    throw new IpfixError(`message length ${length}: the datagram has ${buf.length} bytes`);
  const domain = view.getUint32(12);
  const msg: Message = {
    exportTime: view.getUint32(4),
    sequence: view.getUint32(8),
    domain,
    templates: 0,
    templatesRefused: 0,
    flows: [],
    optionRecords: 0,
    unknownSets: [],
  };
  // Templates first (a message may define a template and use it), applied only at the end.
  const defined: Template[] = [];
  const withdrawn: number[] = [];
  const data: { id: number; body: Uint8Array }[] = [];
  let o = HEADER;
  while (o < length) {
    need(buf, o, 4, "set header");
    const id = view.getUint16(o);
    const setLength = view.getUint16(o + 2);
    if (setLength < 4 || o + setLength > length)
      throw new IpfixError(`set ${id} at offset ${o}: length ${setLength} overruns the message`);
    const body = new DataView(buf.buffer, buf.byteOffset + o + 4, setLength - 4);
    if (id === 2 || id === 3) {
      for (const t of parseTemplates(body, id === 3, o)) {
        if (t.fields.length === 0) withdrawn.push(t.id);
        else defined.push(t);
      }
    } else if (id >= 256) data.push({ id, body: buf.subarray(o + 4, o + setLength) });
    else throw new IpfixError(`set id ${id} at offset ${o}: reserved`);
    o += setLength;
  }
  const local = new Map(defined.map((t) => [t.id, t]));
  for (const d of data) {
    const t = local.get(d.id) ?? (withdrawn.includes(d.id) ? undefined : cache.get(domain, d.id));
    if (!t) msg.unknownSets.push(d.id);
    else if (t.scopeCount !== undefined) msg.optionRecords += decodeData(t, d.body).length;
    else for (const f of decodeData(t, d.body)) msg.flows.push(f);
  }
  for (const id of withdrawn) cache.withdraw(domain, id);
  for (const t of defined)
    if (cache.set(domain, t)) msg.templates++;
    else msg.templatesRefused++;
  return msg;
}
