// Which Debian archive the host's apt uses, read from its sources (deb822
// *.sources and one-line sources.list / *.list) each time, so that no
// mirror is written into the project and a host behind its own mirror or
// proxy keeps using it.
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

import { devmapError } from '../../errors.js';

/** One source entry, in either format. */
export interface AptSource {
  types: string[];
  uris: string[];
  suites: string[];
  components: string[];
  signedBy?: string;
  enabled: boolean;
}

export interface HostArchive {
  /** The main archive (serves SUITE and SUITE-updates). */
  archive: string;
  /** The security archive (serves SUITE-security), when the host lists one. */
  security?: string;
}

/** Stanzas of deb822 `.sources` text; keys are case-insensitive, values may continue on indented lines. */
export function parseDeb822(text: string): AptSource[] {
  const lines = text.split('\n').filter((l) => !l.startsWith('#'));
  return lines.join('\n').split(/\n[ \t]*\n/).flatMap((stanza) => {
    const fields = new Map<string, string>();
    for (const m of stanza.matchAll(/^([\w-]+):(.*(?:\n[ \t].*)*)/gm)) fields.set(m[1]!.toLowerCase(), m[2]!.trim());
    const list = (key: string): string[] => (fields.get(key) ?? '').split(/\s+/).filter(Boolean);
    if (!fields.has('uris')) return [];
    return [{ types: list('types'), uris: list('uris'), suites: list('suites'), components: list('components'), signedBy: fields.get('signed-by'), enabled: !/^(no|false)$/i.test(fields.get('enabled') ?? '') }];
  });
}

/** Entries of one-line `deb [opt=value ...] URI SUITE COMPONENT...` text. */
export function parseOneLine(text: string): AptSource[] {
  return text.split('\n').flatMap((raw) => {
    const m = /^\s*(deb|deb-src)\s+(?:\[([^\]]*)\]\s*)?(\S+)\s+(\S+)\s*(.*)$/.exec(raw.replace(/#.*/, ''));
    if (!m) return [];
    const opts = new Map((m[2] ?? '').trim().split(/\s+/).filter(Boolean).map((o) => o.split('=') as [string, string]));
    return [{ types: [m[1]!], uris: [m[3]!], suites: [m[4]!], components: m[5]!.split(/\s+/).filter(Boolean), signedBy: opts.get('signed-by'), enabled: true }];
  });
}

const DEBIAN_SUITE = /^(buster|bullseye|bookworm|trixie|forky|duke|sid|(old)*stable|testing|unstable)(-updates|-backports|-security|\/updates)?$/;
const isSecurity = (suite: string): boolean => /(-security|\/updates)$/.test(suite);

/**
 * A Debian archive entry: a `deb` entry for a Debian suite with `main`,
 * signed by Debian's keyring (or the default one). Third-party repositories
 * that name a Debian suite (Docker's, say) have their own keyring.
 */
function isDebian(s: AptSource): boolean {
  return s.enabled && s.types.includes('deb') && s.components.includes('main') &&
    (s.signedBy === undefined || s.signedBy.includes('debian-archive-keyring')) && s.suites.some((x) => DEBIAN_SUITE.test(x));
}

/** The first Debian archive and security archive among `sources`. */
export function pickArchive(sources: AptSource[]): Partial<HostArchive> {
  const debian = sources.filter(isDebian);
  const uri = (security: boolean): string | undefined =>
    debian.find((s) => s.suites.some((x) => DEBIAN_SUITE.test(x) && isSecurity(x) === security))?.uris[0]?.replace(/\/+$/, '');
  const archive = uri(false);
  const security = uri(true);
  return { ...(archive && { archive }), ...(security && { security }) };
}

/** The host's apt sources, in the order apt reads them. */
function readHostSources(etc: string): AptSource[] {
  const read = (f: string): string => (existsSync(f) ? readFileSync(f, 'utf8') : '');
  const dir = join(etc, 'sources.list.d');
  const parts = existsSync(dir) ? readdirSync(dir).sort() : [];
  return [
    ...parseOneLine(read(join(etc, 'sources.list'))),
    ...parts.flatMap((f) => (f.endsWith('.sources') ? parseDeb822(read(join(dir, f))) : f.endsWith('.list') ? parseOneLine(read(join(dir, f))) : [])),
  ];
}

/** The Debian archive the host's apt uses (`etc`: the apt folder, /etc/apt). */
export function hostArchive(etc = '/etc/apt'): HostArchive {
  const found = pickArchive(readHostSources(etc));
  if (!found.archive) {
    throw devmapError('ERR_DEVMAP_APT', `no Debian archive in the host's apt sources (${etc}/sources.list, ${etc}/sources.list.d/*.sources or *.list): ` +
      'the guest kernels come from the archive the host uses; add a "deb URI bookworm main" entry (or a deb822 stanza) for a Debian mirror');
  }
  return { archive: found.archive, ...(found.security && { security: found.security }) };
}
