export { DEFAULT_XML_LIMITS, parseXml, XmlParseError, type XmlElement, type XmlLimits } from './xml.parser';
export { attrLocal, childrenNamed, element, firstChild } from './xml.element';
export { escapeAttr, escapeText, serializeXml } from './xml.serializer';
