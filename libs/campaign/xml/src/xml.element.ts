import type { XmlElement } from './xml.parser';

/** Builds an element (for responses and result documents). */
export function element(name: string, attrs: Record<string, string> = {}, children: XmlElement[] = [], text = ''): XmlElement {
  const colon = name.indexOf(':');
  return {
    name,
    local: colon >= 0 ? name.slice(colon + 1) : name,
    prefix: colon >= 0 ? name.slice(0, colon) : '',
    ns: '',
    attrs,
    children,
    text,
    line: 0,
    column: 0,
  };
}

/** The value of the attribute whose local name is `local`, whatever its prefix. */
export function attrLocal(el: XmlElement, local: string): string | undefined {
  if (Object.hasOwn(el.attrs, local)) return el.attrs[local];
  for (const [qname, value] of Object.entries(el.attrs)) {
    const colon = qname.indexOf(':');
    if (colon >= 0 && qname.slice(colon + 1) === local && qname.slice(0, colon) !== 'xmlns') return value;
  }
  return undefined;
}

export function childrenNamed(el: XmlElement, local: string): XmlElement[] {
  return el.children.filter((c) => c.local === local);
}

export function firstChild(el: XmlElement, local: string): XmlElement | undefined {
  return el.children.find((c) => c.local === local);
}
